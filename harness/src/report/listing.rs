//! `parity list`: the selected scenarios with their tags and declared
//! divergences, as text for people or JSON for tools.

use crate::load::scenario::Scenario;

/// One entry per scenario, in the shape `parity list --format json` prints.
/// The listing as `parity list` prints it: JSON, or text.
pub fn render(scenarios: &[Scenario], json: bool) -> String {
    if json {
        list_json(scenarios)
    } else {
        list_text(scenarios)
    }
}

pub fn list_json(scenarios: &[Scenario]) -> String {
    let items: Vec<serde_json::Value> = scenarios
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id,
                "path": s.path,
                "description": s.file.description,
                "tags": s.file.tags,
                "observe": s.file.observe,
                "expect": s.file.expect,
            })
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_default() + "\n"
}

/// Id and tags, the description, and each declared divergence.
pub fn list_text(scenarios: &[Scenario]) -> String {
    let mut out = String::new();
    for s in scenarios {
        out.push_str(&format!("{}  [{}]\n", s.id, s.file.tags.join(", ")));
        out.push_str(&format!("    {}\n", s.file.description.trim()));
        for d in &s.file.expect.diverges {
            out.push_str(&format!(
                "    expect {}: {} differ: {}\n",
                d.runtime,
                d.fields_text(),
                d.reason
            ));
        }
    }
    out.push_str(&format!("{} scenario(s)\n", scenarios.len()));
    out
}
