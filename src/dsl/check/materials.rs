//! The checker: the materials list.

use super::*;

impl<'a> WorkflowChecker<'a> {
    pub(super) fn material(&mut self, def: &ast::MaterialDef) -> Option<Material> {
        for kind in &def.kinds {
            if !FILE_KINDS.contains(&kind.name.as_str()) {
                let diagnostic = Diagnostic::error(
                    "unknown-file-kind",
                    kind.span,
                    format!("unknown file kind `{}`", kind.name),
                )
                .suggest(&kind.name, FILE_KINDS.iter().copied())
                .with_hint(format!("the kinds are {}", FILE_KINDS.join(", ")));
                self.error(diagnostic);
            }
        }
        let requirement = match (&def.required, def.optional) {
            (Some((span, _)), Some(_)) => {
                self.error(Diagnostic::error(
                    "conflicting-options",
                    *span,
                    format!(
                        "material `{}` is both `required` and `optional`",
                        def.id.name
                    ),
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
                        format!(
                            "material `{}` says neither `required` nor `optional`",
                            def.id.name
                        ),
                    )
                    .with_hint("applicants must be told once whether they need it (一次性告知)"),
                );
                return None;
            }
        };
        if let (Some(deferrable), Requirement::Optional) = (def.deferrable, &requirement) {
            self.error(
                Diagnostic::error(
                    "conflicting-options",
                    deferrable,
                    format!(
                        "material `{}` is optional, so it cannot be `deferrable`",
                        def.id.name
                    ),
                )
                .with_hint("`deferrable` (容缺) lets a required material follow after acceptance"),
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
                self.error(duplicate("material", &material.id, *first));
            } else {
                seen.insert(&material.id.name, material.id.span);
            }
        }
    }
}
