//! `--instance-filter`: the Agent's jq-style instance selector, e.g.
//! `.ip_address == "127.0.0.51"`. The Agent runs the query on each
//! instance (as JSON) and keeps the instance when the result is `true`;
//! any other result is an error ("filter query must return a boolean").
//!
//! The runner understands the subset such filters use: paths (`.a.b`,
//! `.a[0]`, `.["odd key"]`, `.`), JSON literals, `==` `!=` `<` `<=` `>`
//! `>=`, `and`, `or`, `not` (as `expr | not`) and parentheses. A missing
//! key is `null`, as in jq.
//!
//! Why a small parser of our own rather than a jq crate (`jaq`): the
//! filters people give `--instance-filter` are comparisons of instance
//! keys; a whole jq interpreter, with its standard library and its own
//! JSON value type, would be the largest dependency of the CLI for one
//! debugging flag. A filter outside the subset is refused with a message
//! that says what is understood.

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceFilter {
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Path(Vec<Step>),
    Literal(Value),
    Compare(Box<Expr>, Op, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl InstanceFilter {
    /// Parses `text`; the error says where and what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut p = Parser {
            chars: text.chars().collect(),
            pos: 0,
        };
        let expr = p.pipe()?;
        p.skip_spaces();
        if p.pos < p.chars.len() {
            return Err(p.error("an operator (==, !=, <, >, and, or, | not)"));
        }
        Ok(Self { expr })
    }

    /// Whether `instance` is selected.
    pub fn matches(&self, instance: &Value) -> Result<bool, String> {
        match eval(&self.expr, instance) {
            Value::Bool(b) => Ok(b),
            other => Err(format!("filter query must return a boolean, got {other}")),
        }
    }
}

fn eval(expr: &Expr, input: &Value) -> Value {
    match expr {
        Expr::Path(steps) => {
            let mut v = input;
            for step in steps {
                let next = match step {
                    Step::Key(k) => v.get(k.as_str()),
                    Step::Index(i) => v.get(*i),
                };
                match next {
                    Some(n) => v = n,
                    None => return Value::Null,
                }
            }
            v.clone()
        }
        Expr::Literal(v) => v.clone(),
        Expr::Compare(a, op, b) => {
            let (a, b) = (eval(a, input), eval(b, input));
            Value::Bool(compare(&a, *op, &b))
        }
        Expr::And(a, b) => Value::Bool(truthy(&eval(a, input)) && truthy(&eval(b, input))),
        Expr::Or(a, b) => Value::Bool(truthy(&eval(a, input)) || truthy(&eval(b, input))),
        Expr::Not(a) => Value::Bool(!truthy(&eval(a, input))),
    }
}

/// jq's truthiness: everything but `false` and `null`.
fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

fn compare(a: &Value, op: Op, b: &Value) -> bool {
    // Numbers compare by value (1 == 1.0), as in jq.
    let equal = match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    };
    match op {
        Op::Eq => equal,
        Op::Ne => !equal,
        _ => {
            let ordering = match (a, b) {
                (Value::Number(_), Value::Number(_)) => a.as_f64().partial_cmp(&b.as_f64()),
                (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
                _ => None,
            };
            match ordering {
                Some(o) => match op {
                    Op::Lt => o.is_lt(),
                    Op::Le => o.is_le(),
                    Op::Gt => o.is_gt(),
                    _ => o.is_ge(),
                },
                None => false,
            }
        }
    }
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn error(&self, expected: &str) -> String {
        let found: String = self.chars[self.pos.min(self.chars.len())..]
            .iter()
            .take(12)
            .collect();
        if found.is_empty() {
            format!("expected {expected} at the end")
        } else {
            format!("expected {expected} at `{found}` (column {})", self.pos + 1)
        }
    }

    fn skip_spaces(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_spaces();
        let end = self.pos + token.chars().count();
        if end <= self.chars.len() && self.chars[self.pos..end].iter().copied().eq(token.chars()) {
            // Words must end at a word boundary (`or` is not `order`).
            let word = token.chars().all(|c| c.is_ascii_alphabetic());
            if word
                && self
                    .chars
                    .get(end)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
            {
                return false;
            }
            self.pos = end;
            return true;
        }
        false
    }

    /// `expr | not`
    fn pipe(&mut self) -> Result<Expr, String> {
        let mut expr = self.or()?;
        while self.eat("|") {
            if !self.eat("not") {
                return Err(self.error("`not` after `|`"));
            }
            expr = Expr::Not(Box::new(expr));
        }
        Ok(expr)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.eat("or") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.comparison()?;
        while self.eat("and") {
            left = Expr::And(Box::new(left), Box::new(self.comparison()?));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let left = self.operand()?;
        for (token, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.eat(token) {
                let right = self.operand()?;
                return Ok(Expr::Compare(Box::new(left), op, Box::new(right)));
            }
        }
        Ok(left)
    }

    fn operand(&mut self) -> Result<Expr, String> {
        self.skip_spaces();
        if self.eat("(") {
            let inner = self.pipe()?;
            if !self.eat(")") {
                return Err(self.error("`)`"));
            }
            return Ok(inner);
        }
        if self.chars.get(self.pos) == Some(&'.') {
            return self.path();
        }
        self.literal()
    }

    fn path(&mut self) -> Result<Expr, String> {
        let mut steps = Vec::new();
        while self.chars.get(self.pos) == Some(&'.') || self.chars.get(self.pos) == Some(&'[') {
            if self.chars[self.pos] == '.' {
                self.pos += 1;
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_alphanumeric() || *c == '_')
                {
                    self.pos += 1;
                }
                if self.pos > start {
                    steps.push(Step::Key(self.chars[start..self.pos].iter().collect()));
                }
            } else {
                self.pos += 1;
                match self.literal()? {
                    Expr::Literal(Value::String(k)) => steps.push(Step::Key(k)),
                    Expr::Literal(Value::Number(n)) if n.as_u64().is_some() => {
                        steps.push(Step::Index(n.as_u64().unwrap_or(0) as usize))
                    }
                    _ => return Err(self.error("a key in quotes or an index")),
                }
                if !self.eat("]") {
                    return Err(self.error("`]`"));
                }
            }
        }
        Ok(Expr::Path(steps))
    }

    /// A JSON string, number, `true`, `false` or `null`.
    fn literal(&mut self) -> Result<Expr, String> {
        self.skip_spaces();
        for (word, value) in [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
        ] {
            if self.eat(word) {
                return Ok(Expr::Literal(value));
            }
        }
        let start = self.pos;
        match self.chars.get(self.pos) {
            Some('"') => {
                self.pos += 1;
                while let Some(&c) = self.chars.get(self.pos) {
                    self.pos += 1;
                    if c == '\\' {
                        self.pos += 1;
                    } else if c == '"' {
                        let text: String = self.chars[start..self.pos].iter().collect();
                        return serde_json::from_str(&text)
                            .map(Expr::Literal)
                            .map_err(|e| format!("invalid string {text}: {e}"));
                    }
                }
                Err("unterminated string".to_string())
            }
            Some(c) if c.is_ascii_digit() || *c == '-' => {
                self.pos += 1;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                serde_json::from_str(&text)
                    .map(Expr::Literal)
                    .map_err(|_| format!("invalid number `{text}`"))
            }
            _ => Err(self.error("a path (.key), a string, a number, true, false or null")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(filter: &str, instance: Value) -> Result<bool, String> {
        InstanceFilter::parse(filter)?.matches(&instance)
    }

    #[test]
    fn selects_like_jq() {
        let i = json!({"ip_address": "127.0.0.51", "port": 80, "tags": ["a", "b"], "nested": {"x y": 1}});
        assert_eq!(check(r#".ip_address == "127.0.0.51""#, i.clone()), Ok(true));
        assert_eq!(
            check(r#".ip_address != "127.0.0.51""#, i.clone()),
            Ok(false)
        );
        assert_eq!(check(".port >= 80 and .port < 81", i.clone()), Ok(true));
        assert_eq!(check(".port == 80.0", i.clone()), Ok(true));
        assert_eq!(check(r#".tags[1] == "b""#, i.clone()), Ok(true));
        assert_eq!(check(r#".nested["x y"] == 1"#, i.clone()), Ok(true));
        assert_eq!(check(".missing == null", i.clone()), Ok(true));
        assert_eq!(check("(.port == 1) or (.port == 80)", i.clone()), Ok(true));
        assert_eq!(check(".port == 1 | not", i.clone()), Ok(true));
        assert_eq!(check(".orphan == 1 or .port == 80", i.clone()), Ok(true));
    }

    #[test]
    fn non_boolean_results_and_bad_syntax_are_errors() {
        let i = json!({"port": 80});
        assert_eq!(
            check(".port", i.clone()),
            Err("filter query must return a boolean, got 80".to_string())
        );
        let e = check(".port ==", i.clone()).unwrap_err();
        assert!(e.contains("expected a path"), "{e}");
        let e = check(".port = 80", i).unwrap_err();
        assert!(e.contains("column 7"), "{e}");
    }
}
