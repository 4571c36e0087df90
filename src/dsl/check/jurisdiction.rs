//! The checker: the deployment's jurisdiction — its districts, the
//! departments that serve each, and the `local` steps routed to them.

use super::*;

/// The jurisdiction as checked: its districts and who serves them.
#[derive(Debug, Default)]
pub(super) struct Districts {
    /// District id → its name (what a form's district field holds).
    pub names: BTreeMap<String, String>,
    /// (district id, kind) → the department serving that district as that kind.
    pub serving: BTreeMap<(String, String), String>,
}

/// The one jurisdiction of the files and the departments serving its
/// districts; every problem reported.
pub(super) fn districts(
    files: &[ast::File],
    departments: &DepartmentTable<'_>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Districts {
    let mut districts = Districts::default();
    let mut spans: BTreeMap<String, Span> = BTreeMap::new();
    let mut first: Option<Span> = None;
    for jurisdiction in files.iter().flat_map(|file| &file.jurisdictions) {
        if let Some(first) = first {
            diagnostics.push(
                Diagnostic::error(
                    "duplicate-definition",
                    jurisdiction.span,
                    "一个部署只有一个辖区（jurisdiction）",
                )
                .with_note(first, "首次定义在此"),
            );
            continue;
        }
        first = Some(jurisdiction.span);
        for (id, name) in &jurisdiction.districts {
            if let Some(first) = spans.get(&id.name) {
                diagnostics.push(duplicate("区县", id, *first));
                continue;
            }
            spans.insert(id.name.clone(), id.span);
            districts.names.insert(id.name.clone(), name.value.clone());
        }
    }
    for (department, _) in departments.values() {
        let Some((district, kind)) = &department.serves else {
            continue;
        };
        if !districts.names.contains_key(&district.name) {
            diagnostics.push(
                Diagnostic::error(
                    "unknown-district",
                    district.span,
                    format!("未知区县`{}`", district.name),
                )
                .suggest(&district.name, districts.names.keys().map(String::as_str))
                .with_hint("区县在`jurisdiction \"…\" { district ID \"名称\" }`中声明"),
            );
            continue;
        }
        if !departments.contains_key(&kind.name) || kind.name == department.id.name {
            diagnostics.push(
                Diagnostic::error(
                    "unknown-department",
                    kind.span,
                    format!("`{}`不是本部门可以代为履职的市级部门", kind.name),
                )
                .suggest(&kind.name, departments.keys().map(String::as_str)),
            );
            continue;
        }
        let key = (district.name.clone(), kind.name.clone());
        if let Some(other) = districts.serving.get(&key) {
            diagnostics.push(Diagnostic::error(
                "duplicate-definition",
                kind.span,
                format!(
                    "`{}`已经作为`{2}`负责区县`{1}`",
                    other, district.name, kind.name
                ),
            ));
            continue;
        }
        districts.serving.insert(key, department.id.name.clone());
    }
    districts
}

impl<'a> WorkflowChecker<'a> {
    /// `local` steps go to the department of their kind in the district the
    /// form names (`district from FIELD`): that field is a choice of the
    /// jurisdiction's districts, each served by a department of every
    /// local step's kind.
    pub(super) fn local_departments(
        &mut self,
        infos: &[StepInfo<'_>],
        district_from: Option<&Ident>,
    ) -> (Option<String>, Vec<LocalDepartment>) {
        let local: Vec<&StepInfo<'_>> = infos.iter().filter(|info| info.def.local).collect();
        let Some(first) = local.first() else {
            return (None, Vec::new());
        };
        let Some(field) = district_from else {
            self.error(
                Diagnostic::error(
                    "missing-district-field",
                    first.def.span,
                    "`local`环节交由申请人所在区县办理，但事项没有说明哪个栏目填写区县",
                )
                .with_hint("加入`district from 栏目`，该栏目是以辖区各区县名称为选项的选择项"),
            );
            return (None, Vec::new());
        };
        let Some(choices) = self
            .fields
            .iter()
            .find(|f| f.id == field.name)
            .map(|f| f.ty.clone())
        else {
            self.error(Diagnostic::error(
                "unknown-field",
                field.span,
                format!("未知栏目`{}`", field.name),
            ));
            return (None, Vec::new());
        };
        let FieldType::Choice(values) = choices else {
            self.error(Diagnostic::error(
                "unknown-district",
                field.span,
                format!("`{}`不是区县选择项", field.name),
            ));
            return (None, Vec::new());
        };
        let mut out = Vec::new();
        for value in &values {
            let Some(district) = self
                .districts
                .names
                .iter()
                .find(|(_, name)| *name == value)
                .map(|(id, _)| id.clone())
            else {
                self.error(
                    Diagnostic::error(
                        "unknown-district",
                        field.span,
                        format!("`{}`的选项`{value}`不是本辖区的区县", field.name),
                    )
                    .with_hint(format!(
                        "本辖区的区县有：{}",
                        self.districts
                            .names
                            .values()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("、")
                    )),
                );
                continue;
            };
            for info in &local {
                let Some(kind) = info.def.actors.first() else {
                    continue;
                };
                let key = (district.clone(), kind.name.clone());
                match self.districts.serving.get(&key) {
                    Some(department) => {
                        if !out
                            .iter()
                            .any(|l: &LocalDepartment| l.district == *value && l.kind == kind.name)
                        {
                            out.push(LocalDepartment {
                                district: value.clone(),
                                kind: kind.name.clone(),
                                department: department.clone(),
                            });
                        }
                    }
                    None => self.error(
                        Diagnostic::error(
                            "no-district-department",
                            info.def.span,
                            format!("没有部门作为`{}`负责区县`{district}`", kind.name),
                        )
                        .with_hint(format!(
                            "声明`department ID \"…\" {{ serves {district} as {} … }}`",
                            kind.name
                        )),
                    ),
                }
            }
        }
        (Some(field.name.clone()), out)
    }
}
