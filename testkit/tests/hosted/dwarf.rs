//! A small reader of the debugging information entries that
//! `readelf --debug-dump=info` prints, enough to compare C declarations
//! with Rust definitions: functions with their parameter and result types,
//! and structure layouts. Both compilers describe the same machine types in
//! DWARF, so a Rust `usize` and a C `size_t` meet as "8-byte unsigned".

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// One debugging information entry.
pub(super) struct Die {
    pub tag: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<usize>,
    parent: Option<usize>,
    file: usize,
}

/// Every entry of a set of object files.
pub(super) struct Dwarf {
    pub dies: Vec<Die>,
    by_offset: HashMap<(usize, u64), usize>,
}

/// A type as far as calls and layouts care.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ty {
    Void,
    Int {
        size: u64,
        signed: bool,
    },
    Bool,
    Float(u64),
    /// A pointer, reference, nullable function pointer or `Option<&T>`;
    /// the entry it points to (through typedefs and qualifiers) if known.
    Ptr(Option<usize>),
    /// A structure or union (by value).
    Record(usize),
    Array {
        elem: Box<Ty>,
        count: u64,
    },
    Func,
    Other(String),
}

fn parse_num(s: &str) -> Option<u64> {
    let t = s.split_whitespace().next()?;
    if let Some(h) = t.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()
    } else {
        t.parse().ok()
    }
}

impl Dwarf {
    /// Reads the entries of `files` (object files or executables).
    pub fn load(files: &[&Path]) -> Dwarf {
        let mut d = Dwarf { dies: Vec::new(), by_offset: HashMap::new() };
        for (fi, f) in files.iter().enumerate() {
            let out =
                Command::new("readelf").arg("--debug-dump=info").arg(f).output().expect("readelf");
            assert!(out.status.success(), "readelf {}", f.display());
            d.parse(fi, &String::from_utf8_lossy(&out.stdout));
        }
        d
    }

    fn parse(&mut self, file: usize, text: &str) {
        // The stack of open parents: (depth, entry).
        let mut stack: Vec<(usize, usize)> = Vec::new();
        let mut cur: Option<usize> = None;
        for line in text.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix('<') {
                if let Some(pos) = rest.find(">: Abbrev Number: ") {
                    // " <depth><offset>: Abbrev Number: N (DW_TAG_x)"
                    let head = &rest[..pos];
                    let (depth, off) = match head.split_once("><") {
                        Some((a, b)) => {
                            (a.parse::<usize>().unwrap(), u64::from_str_radix(b, 16).unwrap())
                        }
                        None => continue,
                    };
                    let tail = &rest[pos + 18..];
                    let tag = match (tail.find('('), tail.rfind(')')) {
                        (Some(a), Some(b)) if a < b => &tail[a + 1..b],
                        _ => {
                            // A null entry: ends the children of the parent.
                            cur = None;
                            continue;
                        }
                    };
                    while stack.last().is_some_and(|&(dp, _)| dp >= depth) {
                        stack.pop();
                    }
                    let idx = self.dies.len();
                    let parent = stack.last().map(|&(_, p)| p);
                    self.dies.push(Die {
                        tag: tag.to_string(),
                        attrs: Vec::new(),
                        children: Vec::new(),
                        parent,
                        file,
                    });
                    if let Some(&(_, p)) = stack.last() {
                        self.dies[p].children.push(idx);
                    }
                    self.by_offset.insert((file, off), idx);
                    stack.push((depth, idx));
                    cur = Some(idx);
                    continue;
                }
                // "<off>   DW_AT_name        : value"
                if let (Some(i), Some(ci)) = (cur, t.find("DW_AT_")) {
                    let a = &t[ci..];
                    if let Some((name, value)) = a.split_once(':') {
                        let mut v = value.trim();
                        if v.starts_with("(indirect")
                            || v.starts_with("(strx")
                            || v.starts_with("(strp")
                        {
                            if let Some(p) = v.find("): ") {
                                v = &v[p + 3..];
                            }
                        }
                        self.dies[i].attrs.push((name.trim().to_string(), v.trim().to_string()));
                    }
                }
            }
        }
    }

    pub fn attr(&self, i: usize, name: &str) -> Option<&str> {
        self.dies[i].attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn num(&self, i: usize, name: &str) -> Option<u64> {
        self.attr(i, name).and_then(parse_num)
    }

    pub fn name(&self, i: usize) -> Option<&str> {
        self.attr(i, "DW_AT_name")
    }

    pub fn has(&self, i: usize, name: &str) -> bool {
        self.attr(i, name).is_some()
    }

    /// The entry an attribute such as `DW_AT_type` refers to.
    pub fn reference(&self, i: usize, name: &str) -> Option<usize> {
        let v = self.attr(i, name)?;
        let h = v.trim().strip_prefix("<0x")?.split('>').next()?;
        let off = u64::from_str_radix(h, 16).ok()?;
        Some(
            *self
                .by_offset
                .get(&(self.dies[i].file, off))
                .unwrap_or_else(|| panic!("dangling reference {v}")),
        )
    }

    /// The name with its enclosing namespaces and types (`a::b::C`).
    pub fn qualified(&self, i: usize) -> String {
        let mut parts = vec![self.name(i).unwrap_or("<anonymous>").to_string()];
        let mut p = self.dies[i].parent;
        while let Some(q) = p {
            if self.dies[q].tag == "DW_TAG_compile_unit" {
                break;
            }
            parts.push(self.name(q).unwrap_or("<anonymous>").to_string());
            p = self.dies[q].parent;
        }
        parts.reverse();
        parts.join("::")
    }

    /// A structure's definition: `i` itself, or, for a declaration, the
    /// entry that defines the same name (in another compilation unit).
    pub fn definition(&self, i: usize) -> usize {
        if !self.has(i, "DW_AT_declaration") {
            return i;
        }
        let q = self.qualified(i);
        (0..self.dies.len())
            .find(|&j| {
                self.dies[j].tag == self.dies[i].tag
                    && !self.has(j, "DW_AT_declaration")
                    && self.name(j) == self.name(i)
                    && self.qualified(j) == q
            })
            .unwrap_or(i)
    }

    /// Follows typedefs and qualifiers.
    pub fn strip(&self, mut i: usize) -> Option<usize> {
        loop {
            match self.dies[i].tag.as_str() {
                "DW_TAG_typedef"
                | "DW_TAG_const_type"
                | "DW_TAG_volatile_type"
                | "DW_TAG_restrict_type"
                | "DW_TAG_atomic_type" => i = self.reference(i, "DW_AT_type")?,
                _ => return Some(i),
            }
        }
    }

    /// The type of entry `i`'s `DW_AT_type` (void when absent).
    pub fn ty_of(&self, i: usize) -> Ty {
        match self.reference(i, "DW_AT_type") {
            Some(t) => self.ty(t),
            None => Ty::Void,
        }
    }

    /// The type that entry `t` describes.
    pub fn ty(&self, t: usize) -> Ty {
        let Some(t) = self.strip(t) else { return Ty::Void };
        let size = self.num(t, "DW_AT_byte_size");
        match self.dies[t].tag.as_str() {
            "DW_TAG_base_type" => {
                let enc = self.num(t, "DW_AT_encoding").unwrap_or(0);
                match enc {
                    2 => Ty::Bool,
                    4 => Ty::Float(size.unwrap_or(0)),
                    5 | 6 | 0xd => Ty::Int { size: size.unwrap_or(0), signed: true },
                    7 | 8 | 0x10 => Ty::Int { size: size.unwrap_or(0), signed: false },
                    _ => Ty::Other(format!("base encoding {enc}")),
                }
            }
            "DW_TAG_pointer_type" | "DW_TAG_reference_type" | "DW_TAG_rvalue_reference_type" => {
                Ty::Ptr(self.reference(t, "DW_AT_type").and_then(|p| self.strip(p)))
            }
            "DW_TAG_structure_type" | "DW_TAG_union_type" => {
                // Rust's Option of a reference or function pointer is one
                // nullable pointer.
                let t = self.definition(t);
                let size = self.num(t, "DW_AT_byte_size");
                if self.name(t).is_some_and(|n| n.starts_with("Option<")) && size == Some(8) {
                    Ty::Ptr(None)
                } else {
                    Ty::Record(t)
                }
            }
            "DW_TAG_enumeration_type" => match self.reference(t, "DW_AT_type") {
                Some(u) => self.ty(u),
                None => Ty::Int { size: size.unwrap_or(4), signed: false },
            },
            "DW_TAG_array_type" => {
                let count = self.dies[t]
                    .children
                    .iter()
                    .filter(|&&c| self.dies[c].tag == "DW_TAG_subrange_type")
                    .map(|&c| {
                        self.num(c, "DW_AT_count")
                            .or_else(|| self.num(c, "DW_AT_upper_bound").map(|u| u + 1))
                            .unwrap_or(0)
                    })
                    .product();
                Ty::Array { elem: Box::new(self.ty_of(t)), count }
            }
            "DW_TAG_subroutine_type" => Ty::Func,
            other => Ty::Other(other.to_string()),
        }
    }

    /// The size of a type in bytes.
    pub fn size(&self, ty: &Ty) -> u64 {
        match ty {
            Ty::Void | Ty::Func | Ty::Other(_) => 0,
            Ty::Int { size, .. } | Ty::Float(size) => *size,
            Ty::Bool => 1,
            Ty::Ptr(_) => 8,
            Ty::Record(r) => self.num(*r, "DW_AT_byte_size").unwrap_or(0),
            Ty::Array { elem, count } => self.size(elem) * count,
        }
    }

    /// The members of a structure or union: (name, offset, type), by offset.
    pub fn members(&self, r: usize) -> Vec<(String, u64, Ty)> {
        let mut v: Vec<(String, u64, Ty)> = self.dies[r]
            .children
            .iter()
            .filter(|&&c| self.dies[c].tag == "DW_TAG_member")
            .map(|&c| {
                (
                    self.name(c).unwrap_or("").to_string(),
                    self.num(c, "DW_AT_data_member_location").unwrap_or(0),
                    self.ty_of(c),
                )
            })
            .collect();
        v.sort_by_key(|m| m.1);
        v
    }

    /// A function's parameter types, and whether it takes `...`.
    pub fn params(&self, f: usize) -> (Vec<Ty>, bool) {
        let mut v = Vec::new();
        let mut variadic = false;
        for &c in &self.dies[f].children {
            match self.dies[c].tag.as_str() {
                "DW_TAG_formal_parameter" => v.push(self.ty_of(c)),
                "DW_TAG_unspecified_parameters" => variadic = true,
                _ => {}
            }
        }
        (v, variadic)
    }

    /// Every entry with `tag`.
    pub fn with_tag<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = usize> + 'a {
        (0..self.dies.len()).filter(move |&i| self.dies[i].tag == tag)
    }

    /// A short description of a type, for messages.
    pub fn describe(&self, ty: &Ty) -> String {
        match ty {
            Ty::Record(r) => format!("struct {}", self.name(*r).unwrap_or("<anonymous>")),
            Ty::Ptr(Some(p)) => {
                format!("pointer to {}", self.name(*p).unwrap_or(&self.dies[*p].tag))
            }
            Ty::Array { elem, count } => format!("[{}; {count}]", self.describe(elem)),
            t => format!("{t:?}"),
        }
    }
}
