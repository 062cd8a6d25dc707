//! A columnar table copied out of PostgreSQL: numbers as `f64`, everything else dictionary-encoded.
//!
//! The shell fills a [`Frame`] from a relation once; profiling, recipes and training read it without
//! touching the database (and may use threads).

use rustc_hash::FxHashMap;

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Integer, floating and numeric columns. `None` is SQL NULL; NaN and ±Infinity are kept as such.
    Numeric(Vec<Option<f64>>),
    /// Text and every other type, by its text form: `codes[i]` indexes `levels`; `None` is NULL.
    Categorical { codes: Vec<Option<u32>>, levels: Vec<String> },
}

/// What a column's values are, as the shell maps its SQL type. The core decides by this and never
/// by a PostgreSQL type name, which it keeps only to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// smallint, integer, bigint: whole numbers that may be codes (one-hot encodable).
    Integer,
    /// Every other number: real, double precision, numeric, and domains over numbers.
    Real,
    /// boolean: a target column whose positive class is `true`.
    Boolean,
    /// Anything else, read by its text form.
    Text,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    /// The SQL type as `format_type` prints it, for reports (and the data fingerprint).
    pub sql_type: String,
    pub kind: ValueKind,
    pub data: ColumnData,
}

impl Column {
    pub fn new(name: impl Into<String>, sql_type: impl Into<String>, kind: ValueKind, data: ColumnData) -> Column {
        Column { name: name.into(), sql_type: sql_type.into(), kind, data }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Numeric(values) => values.len(),
            ColumnData::Categorical { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self.data, ColumnData::Numeric(_))
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    pub columns: Vec<Column>,
}

impl Frame {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The given rows, in the given order; levels are kept so codes stay comparable.
    pub fn take_rows(&self, rows: &[usize]) -> Frame {
        let columns = self
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                sql_type: c.sql_type.clone(),
                kind: c.kind,
                data: match &c.data {
                    ColumnData::Numeric(v) => ColumnData::Numeric(rows.iter().map(|&r| v[r]).collect()),
                    ColumnData::Categorical { codes, levels } => {
                        ColumnData::Categorical { codes: rows.iter().map(|&r| codes[r]).collect(), levels: levels.clone() }
                    }
                },
            })
            .collect();
        Frame { columns }
    }

    /// The columns whose names `keep` accepts, in their order.
    pub fn select(&self, keep: impl Fn(&str) -> bool) -> Frame {
        Frame { columns: self.columns.iter().filter(|c| keep(&c.name)).cloned().collect() }
    }

    /// The text of a cell as PostgreSQL would print it (integers without a fraction), or None.
    pub fn cell_text(&self, column: &Column, row: usize) -> Option<String> {
        match &column.data {
            ColumnData::Numeric(v) => {
                v[row].map(|x| if x.fract() == 0.0 && x.abs() < 9.0e15 { format!("{}", x as i64) } else { format!("{x}") })
            }
            ColumnData::Categorical { codes, levels } => codes[row].map(|c| levels[c as usize].clone()),
        }
    }
}

/// Builds a categorical column one value at a time, allocating only for new distinct values.
/// Clinical columns are dominated by a few values ("No", "None"), so the last code is tried before
/// the hash lookup.
#[derive(Debug, Default)]
pub struct CategoricalBuilder {
    index: FxHashMap<String, u32>,
    levels: Vec<String>,
    codes: Vec<Option<u32>>,
    last: Option<u32>,
}

impl CategoricalBuilder {
    pub fn with_capacity(rows: usize) -> Self {
        CategoricalBuilder { codes: Vec::with_capacity(rows), ..Default::default() }
    }

    pub fn push(&mut self, value: Option<&str>) {
        let code = value.map(|v| self.code_of(v));
        self.codes.push(code);
    }

    fn code_of(&mut self, value: &str) -> u32 {
        if let Some(last) = self.last.filter(|&c| self.levels[c as usize] == value) {
            return last;
        }
        let code = match self.index.get(value) {
            Some(&code) => code,
            None => {
                let code = self.levels.len() as u32;
                self.index.insert(value.to_string(), code);
                self.levels.push(value.to_string());
                code
            }
        };
        self.last = Some(code);
        code
    }

    pub fn finish(self) -> ColumnData {
        ColumnData::Categorical { codes: self.codes, levels: self.levels }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categorical_builder_encodes_levels_once() {
        let mut b = CategoricalBuilder::with_capacity(4);
        for v in [Some("No"), Some("Up"), None, Some("No"), Some("No"), Some("Up")] {
            b.push(v);
        }
        let ColumnData::Categorical { codes, levels } = b.finish() else { panic!("categorical expected") };
        assert_eq!(levels, vec!["No", "Up"]);
        assert_eq!(codes, vec![Some(0), Some(1), None, Some(0), Some(0), Some(1)]);
    }

    #[test]
    fn frame_rows_and_lookup() {
        let frame =
            Frame { columns: vec![Column::new("x", "integer", ValueKind::Integer, ColumnData::Numeric(vec![Some(1.0), None]))] };
        assert_eq!(frame.rows(), 2);
        assert!(frame.column("x").unwrap().is_numeric());
        assert!(frame.column("y").is_none());
        assert_eq!(Frame::default().rows(), 0);
    }
}
