//! Extraction without servers: the labelled donations corpus (`golden`),
//! the MIME torture corpus (`mime`), and the rule files' own examples and
//! load errors (`rules`). One binary, so the crate links once.

mod golden;
mod mime;
mod rules;
