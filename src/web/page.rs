//! What every page shares: the navigation for whoever is asking, and
//! rendering a template into an answer.

use askama::Template;
use axum::response::Html;

use super::auth::Viewer;
use super::error::WebError;
use crate::app::accounts::Role;

/// The header of every page: the links this account has, who is signed
/// in, and the form token for signing out.
#[derive(Debug, Clone, Default)]
pub struct Nav {
    pub links: Vec<(&'static str, &'static str)>,
    pub name: Option<String>,
    pub role: &'static str,
    pub csrf: String,
}

impl Nav {
    pub fn of(viewer: &Viewer) -> Nav {
        let role = viewer.account.as_ref().map(|account| account.role);
        let mut links = vec![("/", "办理事项")];
        links.extend(match role {
            None => vec![
                ("/progress", "进度查询"),
                ("/verify", "文书核验"),
                ("/login", "登录"),
                ("/register", "注册"),
            ],
            Some(Role::Applicant) => vec![
                ("/my", "我的申请"),
                ("/progress", "进度查询"),
                ("/verify", "文书核验"),
            ],
            Some(Role::Window | Role::Reviewer) => {
                vec![("/inbox", "待办事项"), ("/verify", "文书核验")]
            }
            Some(Role::Head) => vec![
                ("/inbox", "待办事项"),
                ("/ratings", "差评处理"),
                ("/stats", "服务评价"),
            ],
            Some(Role::Admin) => vec![("/admin/accounts", "账号管理")],
            Some(Role::Policy) => vec![
                ("/policy", "事项与版本"),
                ("/policy/calendars", "工作日日历"),
                ("/verify", "文书核验"),
            ],
        });
        Nav {
            links,
            name: viewer.account.as_ref().map(|account| account.name.clone()),
            role: role.map_or("", Role::chinese),
            csrf: viewer.csrf.clone(),
        }
    }
}

/// A rendered page.
///
/// # Errors
/// A template that fails to render (a bug): an internal error.
pub fn render(template: &impl Template) -> Result<Html<String>, WebError> {
    template
        .render()
        .map(Html)
        .map_err(|error| WebError::Internal(error.to_string()))
}

/// The years whose dates are provisional (no calendar file yet),
/// 、-separated; empty when none. Staff pages warn with it
/// (`calendar_warning.html`).
pub fn provisional_years(app: &crate::app::App) -> String {
    app.calendar()
        .provisional_years()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("、")
}

/// A day as pages print it; a dash when there is none.
/// A date (or the day of a time, `2026-12-07T10:00`) as pages write it
/// (2026年12月7日), for templates; other text as it is.
pub fn on(date: &impl std::fmt::Display) -> String {
    let text = date.to_string();
    text.get(..10)
        .and_then(|day| day.parse::<jiff::civil::Date>().ok())
        .map_or(text, crate::calendar::chinese_date)
}

pub fn day(date: Option<jiff::civil::Date>) -> String {
    date.map_or_else(|| "—".to_string(), crate::calendar::chinese_date)
}

/// A warning level in words (`green`, `yellow`, `red`, `paused`); empty
/// for none.
pub fn level_words(level: &str) -> &'static str {
    match level {
        "green" => "期限内",
        "yellow" => "临近到期",
        "red" => "已超期",
        "paused" => "计时中止",
        _ => "",
    }
}
