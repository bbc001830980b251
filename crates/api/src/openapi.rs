//! Reads the operations out of the OpenAPI document, enough to check it
//! against the router: under `paths:`, a path key at two spaces of
//! indentation and its methods at four.

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(method, path)` of every operation, sorted.
pub fn operations(yaml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_paths = false;
    let mut path: Option<String> = None;
    for line in yaml.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let key = line.trim().strip_suffix(':');
        if indent == 0 {
            in_paths = line.trim() == "paths:";
            path = None;
            continue;
        }
        if !in_paths {
            continue;
        }
        match (indent, key) {
            (2, Some(k)) => {
                let k = k.trim_matches(['\'', '"']);
                path = k.starts_with('/').then(|| k.to_string());
            }
            (4, Some(k)) if METHODS.contains(&k) => {
                if let Some(p) = &path {
                    out.push((k.to_string(), p.clone()));
                }
            }
            _ => {}
        }
    }
    out.sort();
    out
}

#[test]
fn operations_are_found_under_paths_only() {
    let doc = "openapi: 3.1.0\ninfo:\n  title: x\n  get:\npaths:\n  /a:\n    get:\n      summary: s\n    parameters: []\n    post:\n  '/b/{id}':\n    get:\ncomponents:\n  /c:\n    get:\n";
    assert_eq!(
        operations(doc),
        vec![
            ("get".to_string(), "/a".to_string()),
            ("get".to_string(), "/b/{id}".to_string()),
            ("post".to_string(), "/a".to_string()),
        ]
    );
}
