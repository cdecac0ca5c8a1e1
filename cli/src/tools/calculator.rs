//! The live demo's calculator: a small recursive-descent evaluator of arithmetic expressions
//! (numbers, `+ - * / % ^`, unary minus, parentheses). Bounded: expressions longer than
//! [`MAX_LEN`] or nested deeper than [`MAX_DEPTH`] are refused, so the model's input can never
//! exhaust the stack.

use std::fmt;

/// The longest expression accepted, in bytes.
pub(crate) const MAX_LEN: usize = 1000;

/// The deepest nesting accepted (parentheses, unary minus, powers).
pub(crate) const MAX_DEPTH: usize = 64;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CalcError {
    /// Longer than [`MAX_LEN`].
    TooLong,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Something unexpected at this byte offset.
    Syntax(usize),
    /// Division or remainder by zero.
    DivisionByZero,
    /// The result is not a finite number.
    NotFinite,
}

impl fmt::Display for CalcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CalcError::TooLong => write!(f, "the expression is longer than {MAX_LEN} bytes"),
            CalcError::TooDeep => write!(f, "the expression nests deeper than {MAX_DEPTH} levels"),
            CalcError::Syntax(at) => write!(f, "syntax error at offset {at}"),
            CalcError::DivisionByZero => f.write_str("division by zero"),
            CalcError::NotFinite => f.write_str("the result is not a finite number"),
        }
    }
}

impl std::error::Error for CalcError {}

/// Evaluates `expression`.
pub(crate) fn evaluate(expression: &str) -> Result<f64, CalcError> {
    if expression.len() > MAX_LEN {
        return Err(CalcError::TooLong);
    }
    let mut parser = Parser {
        text: expression.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = parser.sum()?;
    parser.skip_spaces();
    if parser.at != parser.text.len() {
        return Err(CalcError::Syntax(parser.at));
    }
    if value.is_finite() {
        Ok(value)
    } else {
        Err(CalcError::NotFinite)
    }
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.text.get(self.at).copied()
    }

    fn enter(&mut self) -> Result<(), CalcError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(CalcError::TooDeep);
        }
        Ok(())
    }

    /// sum := product (('+' | '-') product)*
    fn sum(&mut self) -> Result<f64, CalcError> {
        let mut value = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.at += 1;
            let rhs = self.product()?;
            value = if op == b'+' { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    /// product := unary (('*' | '/' | '%') unary)*
    fn product(&mut self) -> Result<f64, CalcError> {
        let mut value = self.unary()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.at += 1;
            let rhs = self.unary()?;
            value = match op {
                b'*' => value * rhs,
                _ if rhs == 0.0 => return Err(CalcError::DivisionByZero),
                b'/' => value / rhs,
                _ => value % rhs,
            };
        }
        Ok(value)
    }

    /// unary := '-' unary | power
    fn unary(&mut self) -> Result<f64, CalcError> {
        if self.peek() == Some(b'-') {
            self.at += 1;
            self.enter()?;
            let value = -self.unary()?;
            self.depth -= 1;
            return Ok(value);
        }
        self.power()
    }

    /// power := atom ('^' unary)?   (right-associative)
    fn power(&mut self) -> Result<f64, CalcError> {
        let base = self.atom()?;
        if self.peek() == Some(b'^') {
            self.at += 1;
            self.enter()?;
            let exponent = self.unary()?;
            self.depth -= 1;
            return Ok(base.powf(exponent));
        }
        Ok(base)
    }

    /// atom := number | '(' sum ')'
    fn atom(&mut self) -> Result<f64, CalcError> {
        match self.peek() {
            Some(b'(') => {
                self.at += 1;
                self.enter()?;
                let value = self.sum()?;
                self.depth -= 1;
                if self.peek() != Some(b')') {
                    return Err(CalcError::Syntax(self.at));
                }
                self.at += 1;
                Ok(value)
            }
            Some(b'0'..=b'9' | b'.') => self.number(),
            _ => Err(CalcError::Syntax(self.at)),
        }
    }

    fn number(&mut self) -> Result<f64, CalcError> {
        let start = self.at;
        while self
            .text
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || *b == b'.' || *b == b'_')
        {
            self.at += 1;
        }
        let digits: String = self.text[start..self.at]
            .iter()
            .filter(|b| **b != b'_')
            .map(|b| char::from(*b))
            .collect();
        digits.parse().map_err(|_| CalcError::Syntax(start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(evaluate("1 + 2 * 3"), Ok(7.0));
        assert_eq!(evaluate("(1 + 2) * 3"), Ok(9.0));
        assert_eq!(evaluate("2 ^ 3 ^ 2"), Ok(512.0));
        assert_eq!(evaluate("-2 ^ 2"), Ok(-4.0));
        assert_eq!(evaluate("10 - 4 - 3"), Ok(3.0));
        assert_eq!(evaluate("7 % 4 + 1_000 / 8"), Ok(128.0));
        assert_eq!(evaluate(" 1.5*2 "), Ok(3.0));
    }

    #[test]
    fn errors_are_values_not_panics() {
        assert_eq!(evaluate("1 / 0"), Err(CalcError::DivisionByZero));
        assert_eq!(evaluate("1 +"), Err(CalcError::Syntax(3)));
        assert_eq!(evaluate("(1"), Err(CalcError::Syntax(2)));
        assert_eq!(evaluate("2 3"), Err(CalcError::Syntax(2)));
        assert_eq!(evaluate("1..2"), Err(CalcError::Syntax(0)));
        assert_eq!(evaluate(""), Err(CalcError::Syntax(0)));
        assert_eq!(evaluate("10 ^ 400"), Err(CalcError::NotFinite));
        assert_eq!(evaluate(&"(".repeat(500)), Err(CalcError::TooDeep));
        assert_eq!(evaluate(&"-".repeat(500)), Err(CalcError::TooDeep));
        assert_eq!(evaluate(&"1+".repeat(600)), Err(CalcError::TooLong));
    }
}
