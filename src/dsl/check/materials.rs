//! The checker: the materials list.

use super::*;

impl<'a> WorkflowChecker<'a> {
    pub(super) fn material(&mut self, def: &ast::MaterialDef) -> Option<Material> {
        for kind in &def.kinds {
            if !FILE_KINDS.contains(&kind.name.as_str()) {
                let diagnostic = Diagnostic::error(
                    "unknown-file-kind",
                    kind.span,
                    format!("未知文件格式`{}`", kind.name),
                )
                .suggest(&kind.name, FILE_KINDS.iter().copied())
                .with_hint(format!("可用的格式有：{}", FILE_KINDS.join("、")));
                self.error(diagnostic);
            }
        }
        let requirement = match (&def.required, def.optional) {
            (Some((span, _)), Some(_)) => {
                self.error(Diagnostic::error(
                    "conflicting-options",
                    *span,
                    format!("材料`{}`同时写了`required`和`optional`", def.id.name),
                ));
                return None;
            }
            (Some((_, None)), None) => Requirement::Required,
            (Some((_, Some(condition))), None) => {
                Requirement::RequiredWhen(self.condition(condition)?)
            }
            (None, Some(_)) => Requirement::Optional,
            (None, None) => {
                self.error(
                    Diagnostic::error(
                        "unstated-requirement",
                        def.id.span,
                        format!("材料`{}`没有写明`required`或`optional`", def.id.name),
                    )
                    .with_hint("须一次性告知申请人是否需要提交该材料"),
                );
                return None;
            }
        };
        if let (Some(deferrable), Requirement::Optional) = (def.deferrable, &requirement) {
            self.error(
                Diagnostic::error(
                    "conflicting-options",
                    deferrable,
                    format!("材料`{}`是可选材料，不能写`deferrable`", def.id.name),
                )
                .with_hint("`deferrable`（容缺）是让必交材料在受理后补交"),
            );
        }
        Some(Material {
            id: def.id.name.clone(),
            label: def.label.value.clone(),
            requirement,
            deferrable: def.deferrable.is_some(),
            kinds: def.kinds.iter().map(|k| k.name.clone()).collect(),
            help: def.help.as_ref().map(|h| h.value.clone()),
        })
    }

    pub(super) fn unique_materials(&mut self, materials: &[ast::MaterialDef]) {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for material in materials {
            if let Some(first) = seen.get(material.id.name.as_str()) {
                self.error(duplicate("材料", &material.id, *first));
            } else {
                seen.insert(&material.id.name, material.id.span);
            }
        }
    }
}
