//! The crate's modules are built in floors, and no two of them use each other.
//!
//! This test reads every file under `src/`, finds each path that names a module of the crate
//! (`use crate::...`, `super::...`, `self::...`, a child module, and such paths in code), and
//! fails on any cycle between modules (a file is a module: `transport/worker.rs` is
//! `transport::worker`), naming the cycle and where each of its modules uses the next. It also
//! checks that a module uses only its own floor and those below, as [`FLOORS`] lists them.
//! Comments, doc links and string literals are not uses.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

/// The floors of the crate, bottom first, by top-level module. A module may use the modules of
/// its own floor and of the floors below; a new module is added here.
const FLOORS: &[(&str, &[&str])] = &[
    (
        "values: clocks, ids, sampling, events, URL rules, the delivery policy, OpenTelemetry's resource attributes",
        &[
            "clock",
            "ids",
            "sampling",
            "event",
            "state",
            "url_filter",
            "delivery",
            "digest",
            "otel_resource",
        ],
    ),
    (
        "the wire contract and the settings",
        &["propagation", "config"],
    ),
    (
        "the execution context, its storage and its owner interface",
        &["context"],
    ),
    (
        "what records and sends events: client calls, the transport",
        &["client_call", "transport", "db"],
    ),
    (
        "the client, its checks of the environment and of the layer's place",
        &["client", "env_names", "layer_use"],
    ),
    (
        "the framework adapters",
        &["middleware", "reqwest_middleware", "actix", "hyper_client"],
    ),
];

/// The crate root's module name in reports.
const ROOT: &str = "crate";

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// The tokens of Rust source with their line, without comments, strings and char literals.
fn tokenize(source: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                loop {
                    if i >= chars.len() {
                        break;
                    }
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(&chars, i + 1, &mut line),
            '\'' => {
                // A char literal ('x', '\n', '\''), or a lifetime ('a), which is skipped too.
                if at(i + 1) == '\\' {
                    i += 3;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == '\'' {
                    i += 3;
                } else {
                    i += 1;
                    while at(i).is_alphanumeric() || at(i) == '_' {
                        i += 1;
                    }
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_alphanumeric() || at(i) == '_' {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                // Raw and byte strings: r"..", r#".."#, b"..", br#".."#.
                if matches!(word.as_str(), "r" | "br" | "b" | "cr" | "c")
                    && (at(i) == '"' || (word.ends_with('r') && at(i) == '#'))
                {
                    let mut hashes = 0;
                    while at(i) == '#' {
                        hashes += 1;
                        i += 1;
                    }
                    if at(i) == '"' {
                        let raw = word.ends_with('r');
                        i = if raw {
                            skip_raw_string(&chars, i + 1, hashes, &mut line)
                        } else {
                            skip_string(&chars, i + 1, &mut line)
                        };
                        continue;
                    }
                }
                tokens.push((Token::Ident(word), line));
            }
            ':' if at(i + 1) == ':' => {
                tokens.push((Token::PathSep, line));
                i += 2;
            }
            c => {
                tokens.push((Token::Punct(c), line));
                i += 1;
            }
        }
    }
    tokens
}

/// Skips a string with escapes from just after its opening quote; returns the index after it.
fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            '\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// Skips a raw string (`"` then `hashes` `#` closes it); returns the index after it.
fn skip_raw_string(chars: &[char], mut i: usize, hashes: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        if chars[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i
}

fn ident(token: Option<&(Token, usize)>) -> Option<&str> {
    match token {
        Some((Token::Ident(word), _)) => Some(word),
        _ => None,
    }
}

/// Parses the rest of a path or use tree after its first segments (`prefix`), from `i`; pushes
/// every full path to `out` and returns the index after the tree.
fn parse_tree(
    tokens: &[(Token, usize)],
    mut i: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    while tokens.get(i).map(|t| &t.0) == Some(&Token::PathSep) {
        match tokens.get(i + 1).map(|t| &t.0) {
            Some(Token::Ident(word)) => {
                path.push(word.clone());
                i += 2;
            }
            Some(Token::Punct('*')) => {
                i += 2;
                break;
            }
            Some(Token::Punct('{')) => {
                i += 2;
                loop {
                    match tokens.get(i).map(|t| &t.0) {
                        None => return i,
                        Some(Token::Punct('}')) => return i + 1,
                        Some(Token::Punct(',')) => i += 1,
                        Some(Token::Ident(word)) => {
                            let mut sub = path.clone();
                            sub.push(word.clone());
                            i = parse_tree(tokens, i + 1, sub, out);
                            // `x as y`
                            if ident(tokens.get(i)) == Some("as") {
                                i += 2;
                            }
                        }
                        Some(Token::Punct('*')) => {
                            out.push(path.clone());
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            // A turbofish or anything else ends the path.
            _ => break,
        }
    }
    out.push(path);
    i
}

/// One use of a module: the path as written and where.
#[derive(Clone, Debug)]
struct Use {
    file: String,
    line: usize,
    path: String,
}

/// The module of each file: `lib.rs` is the root, `a.rs` and `a/mod.rs` are `a`, `a/b.rs` is
/// `a::b`.
fn module_of(relative: &str) -> Vec<String> {
    let trimmed = relative.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        ROOT.to_owned()
    } else {
        module.join("::")
    }
}

/// The module graph of a crate given as `(path under src/, source)` pairs: for each module, the
/// modules it uses and the first place it does.
fn module_graph(files: &[(String, String)]) -> BTreeMap<String, BTreeMap<String, Use>> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(path, _)| module_of(path)).collect();
    let tokens: Vec<Vec<(Token, usize)>> = files.iter().map(|(_, s)| tokenize(s)).collect();
    // The crate root's re-exports (`pub use client::RacewayClient`): a module that names
    // `crate::RacewayClient` uses `client`.
    let mut reexports: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut raw: Vec<(usize, Vec<String>, usize)> = Vec::new();
    for (f, (path, _)) in files.iter().enumerate() {
        let module = module_of(path);
        let tokens = &tokens[f];
        // Children declared with `mod x;`, and inline modules (`mod tests { .. }`) by depth.
        let children: BTreeSet<String> = tokens
            .windows(3)
            .filter_map(|w| match w {
                [(Token::Ident(m), _), (Token::Ident(child), _), (Token::Punct(';'), _)]
                    if m == "mod" =>
                {
                    Some(child.clone())
                }
                _ => None,
            })
            .collect();
        let mut depth = 0usize;
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i].0 {
                Token::Punct('{') => {
                    depth += 1;
                    i += 1;
                    continue;
                }
                Token::Punct('}') => {
                    if inline.last().is_some_and(|(_, d)| *d == depth) {
                        inline.pop();
                    }
                    depth = depth.saturating_sub(1);
                    i += 1;
                    continue;
                }
                Token::Ident(word) if word == "mod" => {
                    if let (Some(inner), Some((Token::Punct('{'), _))) =
                        (ident(tokens.get(i + 1)), tokens.get(i + 2))
                    {
                        inline.push((inner.to_owned(), depth + 1));
                    }
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let starts_path = tokens.get(i + 1).map(|t| &t.0) == Some(&Token::PathSep)
                && !matches!(
                    i.checked_sub(1).map(|p| &tokens[p].0),
                    Some(Token::PathSep) | Some(Token::Punct('.'))
                );
            let Some(first) = ident(tokens.get(i)).filter(|_| starts_path) else {
                i += 1;
                continue;
            };
            let here: Vec<String> = module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(m, _)| m.clone()))
                .collect();
            let (base, rest_from) = match first {
                "crate" => (Vec::new(), i + 1),
                "self" => (here.clone(), i + 1),
                "super" => {
                    let mut base = here.clone();
                    let mut j = i;
                    while ident(tokens.get(j)) == Some("super")
                        && tokens.get(j + 1).map(|t| &t.0) == Some(&Token::PathSep)
                    {
                        base.pop();
                        j += 2;
                    }
                    // `j` is after the last `super::`; step back so the tree starts at `::`.
                    (base, j - 1)
                }
                child if inline.is_empty() && children.contains(child) => {
                    let mut base = here.clone();
                    base.push(child.to_owned());
                    (base, i + 1)
                }
                _ => {
                    i += 1;
                    continue;
                }
            };
            let mut paths = Vec::new();
            let end = parse_tree(tokens, rest_from, Vec::new(), &mut paths);
            for rest in paths {
                let mut absolute = base.clone();
                absolute.extend(rest.into_iter().filter(|s| s != "self"));
                if module.is_empty() && inline.is_empty() {
                    if let Some(item) = absolute.last() {
                        reexports.insert(item.clone(), absolute.clone());
                    }
                }
                raw.push((f, absolute, tokens[i].1));
            }
            i = end.max(i + 1);
        }
    }
    let resolve = |path: &[String]| -> Vec<String> {
        let longest = |path: &[String]| {
            (0..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| modules.contains(prefix))
                .unwrap_or_default()
        };
        let module = longest(path);
        if module.is_empty() && path.len() == 1 {
            // An item of the root: the module it is re-exported from, when it is.
            if let Some(target) = reexports.get(&path[0]).filter(|t| t.len() > 1) {
                return longest(target);
            }
        }
        module
    };
    let mut graph: BTreeMap<String, BTreeMap<String, Use>> = BTreeMap::new();
    for module in &modules {
        graph.entry(name(module)).or_default();
    }
    for (f, absolute, line) in raw {
        let from = module_of(&files[f].0);
        let to = resolve(&absolute);
        if to == from {
            continue;
        }
        graph
            .entry(name(&from))
            .or_default()
            .entry(name(&to))
            .or_insert_with(|| Use {
                file: format!("src/{}", files[f].0),
                line,
                path: format!("crate::{}", absolute.join("::")),
            });
    }
    graph
}

/// A cycle of the graph as a closed path, and every module of its strongly connected component
/// (the modules that all reach each other).
struct Cycle {
    path: Vec<String>,
    component: Vec<String>,
}

/// One cycle per strongly connected component (Tarjan) of more than one module.
fn cycles(graph: &BTreeMap<String, BTreeMap<String, Use>>) -> Vec<Cycle> {
    struct Tarjan<'a> {
        graph: &'a BTreeMap<String, BTreeMap<String, Use>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<&'a str>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph[node].keys() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top);
                    if top == node {
                        break;
                    }
                }
                self.components.push(component);
            }
        }
    }
    let mut tarjan = Tarjan {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !tarjan.index.contains_key(node.as_str()) {
            tarjan.visit(node);
        }
    }
    let mut found = Vec::new();
    for component in tarjan.components.into_iter().filter(|c| c.len() > 1) {
        // The shortest cycle through the component's first module, by breadth-first search.
        let inside: BTreeSet<&str> = component.iter().copied().collect();
        let start = *inside.iter().next().unwrap();
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        'search: while let Some(node) = queue.pop_front() {
            for next in graph[node].keys().map(String::as_str) {
                if !inside.contains(next) {
                    continue;
                }
                if next == start {
                    let mut back = vec![start.to_owned()];
                    let mut at = node;
                    while at != start {
                        back.push(at.to_owned());
                        at = parent[at];
                    }
                    back.push(start.to_owned());
                    back.reverse();
                    found.push(Cycle {
                        path: back,
                        component: inside.iter().map(|m| (*m).to_owned()).collect(),
                    });
                    break 'search;
                }
                if !parent.contains_key(next) {
                    parent.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
    }
    found
}

/// The cycles and floor breaches of a graph, as lines of a report; empty when it is layered.
fn problems(graph: &BTreeMap<String, BTreeMap<String, Use>>, floors: &[(&str, &[&str])]) -> String {
    let mut report = String::new();
    for cycle in cycles(graph) {
        let _ = writeln!(report, "import cycle: {}", cycle.path.join(" -> "));
        if cycle.component.len() + 1 > cycle.path.len() {
            let _ = writeln!(
                report,
                "  (one of the cycles between {})",
                cycle.component.join(", ")
            );
        }
        for pair in cycle.path.windows(2) {
            let at = &graph[&pair[0]][&pair[1]];
            let _ = writeln!(
                report,
                "  {} uses {} at {}:{} ({})",
                pair[0], pair[1], at.file, at.line, at.path
            );
        }
    }
    let floor_of = |module: &str| {
        let top = module.split("::").next().unwrap_or(module);
        floors
            .iter()
            .position(|(_, members)| members.contains(&top))
    };
    for (from, uses) in graph {
        if from == ROOT {
            continue;
        }
        let Some(own) = floor_of(from) else {
            let _ = writeln!(report, "module {from} is on no floor: add it to FLOORS");
            continue;
        };
        for (to, at) in uses {
            if to == ROOT {
                let _ = writeln!(
                    report,
                    "{from} uses the crate root at {}:{} ({}): name the module instead",
                    at.file, at.line, at.path
                );
                continue;
            }
            if let Some(theirs) = floor_of(to).filter(|theirs| *theirs > own) {
                let _ = writeln!(
                    report,
                    "{from} ({}) uses {to}, a floor above ({}), at {}:{} ({})",
                    floors[own].0, floors[theirs].0, at.file, at.line, at.path
                );
            }
        }
    }
    report
}

fn sources(dir: &Path, under: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            sources(&path, under, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(under).unwrap();
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((relative, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn the_crate_has_no_import_cycle_and_keeps_its_floors() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &src, &mut files);
    assert!(files.iter().any(|(path, _)| path == "lib.rs"));
    let graph = module_graph(&files);
    // The checker sees the crate: the client uses the context, which does not use it back.
    assert!(graph["client"].contains_key("context"), "{graph:#?}");
    assert!(graph["transport::worker"].contains_key("transport::shared"));
    let report = problems(&graph, FLOORS);
    assert!(
        report.is_empty(),
        "the module graph is not layered:\n{report}"
    );
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(path, source)| ((*path).to_owned(), (*source).to_owned()))
        .collect()
}

#[test]
fn the_checker_reports_a_cycle_and_where_it_is() {
    let crate_files = files(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\npub use a::Alpha;\n"),
        (
            "a.rs",
            "use crate::b::{Beta, self as bee};\npub struct Alpha;\n",
        ),
        (
            "b.rs",
            "pub struct Beta;\nfn f() {\n    crate::c::gamma();\n}\n",
        ),
        (
            "c.rs",
            "pub fn gamma() {}\nfn g() -> crate::Alpha { todo!() }\n",
        ),
    ]);
    let graph = module_graph(&crate_files);
    let report = problems(&graph, &[("all", &["a", "b", "c"])]);
    assert!(
        report.contains("import cycle: a -> b -> c -> a"),
        "{report}"
    );
    assert!(
        report.contains("b uses c at src/b.rs:3 (crate::c::gamma)"),
        "{report}"
    );
    assert!(
        report.contains("c uses a at src/c.rs:2 (crate::Alpha)"),
        "{report}"
    );
}

#[test]
fn the_checker_ignores_comments_strings_and_tests_but_not_super_or_children() {
    let crate_files = files(&[
        ("lib.rs", "mod a;\nmod t;\n"),
        (
            "a.rs",
            r##"//! Uses [`crate::t::X`] in a doc link only.
/* crate::t::Y */
const S: &str = "crate::t::Z";
const R: &str = r#"crate::t::W "quoted""#;
const C: char = '"';
fn f<'a>(x: &'a str) -> &'a str { x }
#[cfg(test)]
mod tests {
    use super::*;
}
"##,
        ),
        ("t/mod.rs", "mod inner;\nmod other;\nuse inner::Thing;\n"),
        ("t/inner.rs", "pub struct Thing;\nuse super::other::O;\n"),
        ("t/other.rs", "pub struct O;\nfn f() { super::g(); }\n"),
    ]);
    let graph = module_graph(&crate_files);
    assert!(graph["a"].is_empty(), "{:#?}", graph["a"]);
    assert!(graph["t"].contains_key("t::inner"));
    assert!(graph["t::inner"].contains_key("t::other"));
    // t -> t::inner -> t::other -> t: a child using its parent closes a cycle.
    let report = problems(&graph, &[("all", &["a", "t"])]);
    assert!(
        report.contains("import cycle: t -> t::inner -> t::other -> t"),
        "{report}"
    );
}

#[test]
fn the_checker_reports_a_floor_breach() {
    let crate_files = files(&[
        ("lib.rs", "mod low;\nmod high;\n"),
        ("low.rs", "use crate::high::H;\n"),
        ("high.rs", "pub struct H;\n"),
    ]);
    let report = problems(
        &module_graph(&crate_files),
        &[("bottom", &["low"]), ("top", &["high"])],
    );
    assert!(
        report.contains("low (bottom) uses high, a floor above (top), at src/low.rs:1"),
        "{report}"
    );
}
