//! Maps YAML paths to line numbers in the text they came from, so an error found after
//! parsing and merging can still point at a line.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Line (1-based) of every mapping key and sequence item, by dotted path.
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    pub fn build(text: &str) -> LineIndex {
        let mut builder = Builder::default();
        // A text that does not parse has no index; its parse error carries the line.
        let _ = Parser::new_from_str(text).load(&mut builder, false);
        LineIndex {
            lines: builder.lines,
        }
    }

    /// The line of `path`, or of its nearest ancestor that has one.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        self.locate(path).map(|(_, line)| line)
    }

    /// The longest prefix of `path` this text defines, as (prefix length, line).
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path;
        loop {
            if let Some(line) = self.lines.get(p) {
                return Some((p.len(), *line));
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }
}

enum Frame {
    Map { key: Option<String> },
    Seq { index: usize },
}

#[derive(Default)]
struct Builder {
    stack: Vec<(String, Frame)>,
    lines: HashMap<String, usize>,
}

impl Builder {
    fn base(&self) -> String {
        self.stack
            .last()
            .map(|(p, _)| p.clone())
            .unwrap_or_default()
    }

    /// Path of the node about to start in the current container, recording its line.
    fn child_path(&mut self, line: usize) -> Option<String> {
        let base = self.base();
        match self.stack.last_mut() {
            Some((_, Frame::Map { key: Some(k) })) => Some(super::expand::join(&base, k)),
            Some((_, Frame::Seq { index })) => {
                let p = format!("{base}[{index}]");
                self.lines.entry(p.clone()).or_insert(line);
                Some(p)
            }
            Some((_, Frame::Map { key: None })) => None,
            None => Some(String::new()),
        }
    }

    /// A value finished in the current container.
    fn value_done(&mut self) {
        match self.stack.last_mut() {
            Some((_, Frame::Map { key })) => *key = None,
            Some((_, Frame::Seq { index })) => *index += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(text, ..) => {
                if let Some((base, Frame::Map { key })) = self.stack.last_mut()
                    && key.is_none()
                {
                    let path = super::expand::join(base, &text);
                    self.lines.entry(path).or_insert(line);
                    *key = Some(text);
                    return;
                }
                let _ = self.child_path(line);
                self.value_done();
            }
            Event::Alias(_) => {
                let _ = self.child_path(line);
                self.value_done();
            }
            Event::MappingStart(..) => {
                let path = self.child_path(line).unwrap_or_default();
                self.stack.push((path, Frame::Map { key: None }));
            }
            Event::SequenceStart(..) => {
                let path = self.child_path(line).unwrap_or_default();
                self.stack.push((path, Frame::Seq { index: 0 }));
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.value_done();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_items() {
        let text = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: x\nservice:\n  pipelines:\n    traces:\n      receivers: [otlp]\n      exporters:\n        - debug\n        - nop\n";
        let idx = LineIndex::build(text);
        assert_eq!(
            idx.line_of("receivers.otlp.protocols.grpc.endpoint"),
            Some(5)
        );
        assert_eq!(idx.line_of("service.pipelines.traces.receivers"), Some(9));
        assert_eq!(
            idx.line_of("service.pipelines.traces.exporters[1]"),
            Some(12)
        );
        // Unknown leaf falls back to its parent.
        assert_eq!(idx.line_of("receivers.otlp.protocols.grpc.nope"), Some(4));
    }
}
