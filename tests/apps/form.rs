//! Just enough HTML to fill in the apps' forms the way a browser would: the fields a
//! form would submit (hidden inputs, text inputs, checked boxes, textareas, the selected
//! option), so CSRF tokens and other hidden state travel as they do from a browser.

/// A form's action and the fields a browser would submit with it, in document order.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: Option<String>,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first form whose opening tag has `attr="value"`.
    pub fn find(html: &str, attr_name: &str, value: &str) -> Option<Form> {
        Self::find_where(html, |tag| attr(tag, attr_name).as_deref() == Some(value))
    }

    /// The first form whose opening tag satisfies `pred`.
    pub fn find_where(html: &str, pred: impl Fn(&str) -> bool) -> Option<Form> {
        let mut rest = html;
        while let Some(start) = find_tag(rest, "form") {
            let tag_end = start + rest[start..].find('>')? + 1;
            let tag = &rest[start..tag_end];
            let body_end = rest[tag_end..]
                .find("</form>")
                .map_or(rest.len(), |i| tag_end + i);
            if pred(tag) {
                return Some(Form {
                    action: attr(tag, "action"),
                    fields: fields(&rest[tag_end..body_end]),
                });
            }
            rest = &rest[body_end..];
        }
        None
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets every field called `name` (adds one when there is none).
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        let mut found = false;
        for (n, v) in self.fields.iter_mut() {
            if n == name {
                *v = value.to_string();
                found = true;
            }
        }
        if !found {
            self.fields.push((name.to_string(), value.to_string()));
        }
        self
    }
}

/// The value of the first `<input>` named `name` anywhere in `html`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let mut rest = html;
    while let Some(start) = find_tag(rest, "input") {
        let end = start + rest[start..].find('>')? + 1;
        let tag = &rest[start..end];
        if attr(tag, "name").as_deref() == Some(name) {
            return Some(attr(tag, "value").unwrap_or_default());
        }
        rest = &rest[end..];
    }
    None
}

/// Fields submitted from a form body: no buttons, no unchecked boxes, no disabled fields.
fn fields(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[..=gt];
        let name_of = |t: &str| {
            t[1..]
                .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        };
        let tag_name = name_of(tag);
        let after = &rest[gt + 1..];
        let disabled = has_attr(tag, "disabled");
        match tag_name.as_str() {
            "input" if !disabled => {
                let kind = attr(tag, "type").unwrap_or_default().to_ascii_lowercase();
                if let Some(name) = attr(tag, "name") {
                    let value = attr(tag, "value");
                    match kind.as_str() {
                        "submit" | "button" | "reset" | "image" | "file" => {}
                        "checkbox" | "radio" => {
                            if has_attr(tag, "checked") {
                                out.push((name, value.unwrap_or_else(|| "on".into())));
                            }
                        }
                        _ => out.push((name, value.unwrap_or_default())),
                    }
                }
            }
            "textarea" if !disabled => {
                let end = after.find("</textarea>").unwrap_or(after.len());
                if let Some(name) = attr(tag, "name") {
                    let text = &after[..end];
                    // A newline right after the start tag is not part of the value (HTML).
                    let text = text.strip_prefix('\n').unwrap_or(text);
                    out.push((name, decode_entities(text)));
                }
                rest = &after[end..];
                continue;
            }
            "select" if !disabled => {
                let end = after.find("</select>").unwrap_or(after.len());
                if let Some(name) = attr(tag, "name") {
                    if let Some(v) = selected_option(&after[..end]) {
                        out.push((name, v));
                    }
                }
                rest = &after[end..];
                continue;
            }
            _ => {}
        }
        rest = after;
    }
    out
}

/// The selected option's value, else the first option's (what a browser submits).
fn selected_option(options: &str) -> Option<String> {
    let mut first = None;
    let mut rest = options;
    while let Some(start) = find_tag(rest, "option") {
        let gt = start + rest[start..].find('>')?;
        let tag = &rest[start..=gt];
        let after = &rest[gt + 1..];
        let text_end = after.find('<').unwrap_or(after.len());
        let value = attr(tag, "value").unwrap_or_else(|| decode_entities(after[..text_end].trim()));
        if has_attr(tag, "selected") {
            return Some(value);
        }
        first.get_or_insert(value);
        rest = after;
    }
    first
}

/// Index of the next `<name` tag (case-insensitive, followed by a space, `/` or `>`).
fn find_tag(html: &str, name: &str) -> Option<usize> {
    let lower = html.to_ascii_lowercase();
    let needle = format!("<{name}");
    let mut from = 0;
    while let Some(i) = lower[from..].find(&needle) {
        let at = from + i;
        match lower.as_bytes().get(at + needle.len()) {
            Some(c) if c.is_ascii_whitespace() || *c == b'>' || *c == b'/' => return Some(at),
            _ => from = at + needle.len(),
        }
    }
    None
}

/// The attributes of a start tag: (lower-case name, decoded value or None).
fn attributes(tag: &str) -> Vec<(String, Option<String>)> {
    let inner = tag.trim_start_matches('<').trim_end_matches('>');
    let b = inner.as_bytes();
    let mut i = 0;
    // Skip the tag name.
    while i < b.len() && !b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut out = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        let name = inner[start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let s = i + 1;
                let mut e = s;
                while e < b.len() && b[e] != q {
                    e += 1;
                }
                i = (e + 1).min(b.len());
                &inner[s..e]
            } else {
                let s = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                &inner[s..i]
            };
            out.push((name, Some(decode_entities(value))));
        } else if !name.is_empty() {
            out.push((name, None));
        }
    }
    out
}

pub fn attr(tag: &str, name: &str) -> Option<String> {
    attributes(tag)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v)
}

fn has_attr(tag: &str, name: &str) -> bool {
    attributes(tag).iter().any(|(n, _)| n == name)
}

/// The character references these apps emit: named basics and numeric ones.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_submits_what_a_browser_would() {
        let html = r#"<form id="f" action="/go?a=1&amp;b=2"><input type="hidden" name="t" value="x&quot;y">
            <input type=checkbox name=c1 checked><input type="checkbox" name="c2" value="v">
            <input type="submit" name="s" value="Go"><textarea name="ta">
line &lt;1&gt;</textarea><select name="sel"><option value="a">A<option value="b" selected>B</select>
            <input name="d" value="no" disabled></form><form id="g"></form>"#;
        let f = Form::find(html, "id", "f").unwrap();
        assert_eq!(f.action.as_deref(), Some("/go?a=1&b=2"));
        let want: Vec<(String, String)> = [
            ("t", "x\"y"),
            ("c1", "on"),
            ("ta", "line <1>"),
            ("sel", "b"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(f.fields, want);
        assert_eq!(input_value(html, "t").as_deref(), Some("x\"y"));
        assert!(Form::find(html, "id", "g").unwrap().fields.is_empty());
        assert!(Form::find(html, "id", "h").is_none());
    }
}
