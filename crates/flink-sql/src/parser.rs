//! The structural walk over tokens.
//!
//! Statement structure is parsed by recursive descent and is strict: a clause keyword, a table
//! name or a closing parenthesis must be where the grammar puts it. Expressions are parsed only as
//! far as needed to know where they end (operands joined by operators) and to find subqueries.
//! Function arguments, `OVER (...)` windows, `MATCH_RECOGNIZE (...)` bodies and option lists are
//! skipped as balanced token runs, looking inside only for subqueries and `TABLE name` arguments.
//! That is what makes `FROM` inside `EXTRACT(YEAR FROM ts)` or `TRIM(BOTH ' ' FROM s)` harmless:
//! it never stands where a `FROM` clause could start.
//!
//! Stateful features are noted where the walk passes them: clause keywords in `select` and
//! `query_body`, joins in `table_reference` and the `FROM` list, built-in function names and
//! `OVER` wherever a call is read or skipped, subqueries where an expression opens one.

use crate::lexer::{tokenize, Token, TokenKind};
use crate::{
    Analysis, Column, CreatedTable, DroppedTable, Materialized, ParseError, StartMode, Stateful,
    StatementKind, TableRef,
};

type PResult<T> = Result<T, ParseError>;

/// Words that can never be a bare identifier (table name, alias, column) here. This is the subset
/// of Calcite's reserved words that matters to the walk: those that start or separate clauses, so
/// that `FROM t WHERE ...` never takes `WHERE` for an alias of `t`.
const RESERVED: &[&str] = &[
    "ALL",
    "AND",
    "AS",
    "BETWEEN",
    "BY",
    "CASE",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "DISTINCT",
    "DROP",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXISTS",
    "FALSE",
    "FETCH",
    "FOR",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MATCH_RECOGNIZE",
    "MINUS",
    "NATURAL",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PRIMARY",
    "RIGHT",
    "SELECT",
    "SIMILAR",
    "TABLE",
    "THEN",
    "TRUE",
    "UNION",
    "UNNEST",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
];

/// Words that open or close a literal (`INTERVAL '1' HOUR`, `TIMESTAMP '…'`): keywords for
/// [`Parser::normalized`], though not reserved.
fn is_literal_word(word: &str) -> bool {
    ["INTERVAL", "TIMESTAMP", "DATE", "TIME"]
        .iter()
        .chain(INTERVAL_UNITS)
        .any(|w| w.eq_ignore_ascii_case(word))
}

pub(crate) fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(word))
}

/// Statement-leading words of statements the walk recognises but does not look inside.
const OTHER_STATEMENTS: &[&str] = &[
    "ADD", "ANALYZE", "CALL", "DELETE", "EXPLAIN", "LOAD", "REMOVE", "RESET", "TRUNCATE", "UNLOAD",
    "UPDATE",
];

/// Objects other than tables and views that `CREATE`/`DROP`/`ALTER` may name. An unknown word here
/// is an error rather than `Other`, so that `CREATE TABEL t` fails as it does in Flink.
const OTHER_OBJECTS: &[&str] = &[
    "AGENT",
    "CATALOG",
    "CONNECTION",
    "DATABASE",
    "FUNCTION",
    "MATERIALIZED",
    "MODEL",
    "SCHEMA",
    "SYSTEM",
    "TOOL",
];

/// Interval units, singular and plural (Flink accepts `INTERVAL '10' MINUTES`).
const INTERVAL_UNITS: &[&str] = &[
    "YEAR",
    "YEARS",
    "QUARTER",
    "QUARTERS",
    "MONTH",
    "MONTHS",
    "WEEK",
    "WEEKS",
    "DAY",
    "DAYS",
    "HOUR",
    "HOURS",
    "MINUTE",
    "MINUTES",
    "SECOND",
    "SECONDS",
    "MILLISECOND",
    "MILLISECONDS",
    "MICROSECOND",
    "MICROSECONDS",
    "NANOSECOND",
    "NANOSECONDS",
];

/// Built-in aggregate functions: stateful when called outside `OVER`.
const AGGREGATE_FUNCTIONS: &[&str] = &[
    "APPROX_COUNT_DISTINCT",
    "ARRAY_AGG",
    "AVG",
    "BOOL_AND",
    "BOOL_OR",
    "COLLECT",
    "COUNT",
    "FIRST_VALUE",
    "JSON_ARRAYAGG",
    "JSON_OBJECTAGG",
    "LAST_VALUE",
    "LISTAGG",
    "MAX",
    "MIN",
    "STDDEV",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "SUM",
    "SUM0",
    "VARIANCE",
    "VAR_POP",
    "VAR_SAMP",
];

const RANKING_FUNCTIONS: &[&str] = &[
    "ROW_NUMBER",
    "RANK",
    "DENSE_RANK",
    "PERCENT_RANK",
    "CUME_DIST",
    "NTILE",
];

/// Windowing table functions; called in `GROUP BY` they are the legacy group windows, as stateful.
const WINDOW_FUNCTIONS: &[&str] = &["TUMBLE", "HOP", "CUMULATE", "SESSION"];

/// Binary operators written as symbols.
const BINARY_SYMBOLS: &[&str] = &[
    "+", "-", "*", "/", "%", "||", "=", "==", "<>", "!=", "<", ">", "<=", ">=", "^", "&", "|",
];

/// How deep parentheses, subqueries and nested expressions may go. Every cycle of the recursive
/// walk passes through `skip_group`, `query`, `table_factor` or `operand`, and each of those counts
/// one level, so the stack the walk needs is bounded whatever the input: hostile SQL (100 000
/// opening parentheses, `NOT NOT NOT …`, `CASE WHEN CASE WHEN …`) is a parse error, never a stack
/// overflow. Real statements stay far below it; it fits the 2 MiB stack of a spawned thread, debug
/// build included (`tests/hostile.rs`).
pub(crate) const MAX_DEPTH: usize = 200;

const QUERY_END_HINT: &str =
    "a clause keyword (FROM, WHERE, GROUP BY, HAVING, ORDER BY, LIMIT, UNION, ...), \";\" or the end of the statement";

pub(crate) fn parse(sql: &str) -> PResult<Analysis> {
    let tokens = tokenize(sql)?;
    let partners = check_balance(&tokens)?;
    let mut parser = Parser {
        toks: &tokens,
        partners,
        pos: 0,
        creates: Vec::new(),
        evolves: Vec::new(),
        drops: Vec::new(),
        alters: Vec::new(),
        writes: Vec::new(),
        reads: Vec::new(),
        stateful: Vec::new(),
        muted: 0,
        cte_scopes: Vec::new(),
        depth: 0,
        want_projection: false,
        projection: None,
        watermark: None,
    };
    let kind = parser.statement()?;
    parser.finish(kind)
}

fn is_kw(token: &Token, keyword: &str) -> bool {
    token.kind == TokenKind::Word && token.text.eq_ignore_ascii_case(keyword)
}

fn is_sym(token: &Token, symbol: &str) -> bool {
    token.kind == TokenKind::Symbol && token.text == symbol
}

fn is_any_kw(token: &Token, keywords: &[&str]) -> bool {
    keywords.iter().any(|k| is_kw(token, k))
}

fn error_at(token: &Token, expecting: &str) -> ParseError {
    let shown = if token.kind == TokenKind::Eof {
        "<EOF>"
    } else {
        token.raw.as_str()
    };
    let mut message = format!(
        "Encountered \"{shown}\" at line {}, column {}.",
        token.line, token.column
    );
    if !expecting.is_empty() {
        message.push_str(&format!(" Was expecting {expecting}."));
    }
    ParseError {
        message,
        line: token.line,
        column: token.column,
    }
}

/// Checks parentheses and square brackets before any parsing, so that an unbalanced statement is
/// reported at the bracket at fault rather than wherever the walk happens to notice. Returns, for
/// each opening bracket's index, the index of its closing bracket (0 for other tokens), so that
/// the walk can look past a group without walking it.
fn check_balance(tokens: &[Token]) -> PResult<Vec<usize>> {
    let mut partners = vec![0; tokens.len()];
    let mut open: Vec<(usize, &Token)> = Vec::new();
    for (i, token) in tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.kind == TokenKind::Symbol)
    {
        match token.text.as_str() {
            "(" | "[" => open.push((i, token)),
            ")" | "]" => {
                let wanted = if token.text == ")" { "(" } else { "[" };
                match open.pop() {
                    Some((at, o)) if o.text == wanted => partners[at] = i,
                    _ => {
                        let mut e = error_at(token, "");
                        e.message.push_str(" Unbalanced parentheses.");
                        return Err(e);
                    }
                }
            }
            _ => {}
        }
    }
    match open.pop() {
        None => Ok(partners),
        Some((_, o)) => Err(ParseError {
            message: format!(
                "Unbalanced parentheses: \"{}\" at line {}, column {} is never closed.",
                o.raw, o.line, o.column
            ),
            line: o.line,
            column: o.column,
        }),
    }
}

struct Parser<'t> {
    toks: &'t [Token],
    /// See [`check_balance`].
    partners: Vec<usize>,
    pos: usize,
    creates: Vec<CreatedTable>,
    evolves: Vec<CreatedTable>,
    drops: Vec<DroppedTable>,
    alters: Vec<TableRef>,
    writes: Vec<TableRef>,
    reads: Vec<TableRef>,
    stateful: Vec<Stateful>,
    /// Above zero inside a `MATCH_RECOGNIZE` body, whose aggregates and `ORDER BY` belong to the
    /// pattern match (itself the stateful feature) rather than standing on their own.
    muted: usize,
    /// CTE names visible at the current point, one scope per `WITH`: a CTE shadows a table of the
    /// same (unqualified) name, so a reference to it is not a read.
    cte_scopes: Vec<Vec<String>>,
    /// How deep the walk is in the functions every recursion passes through (see [`MAX_DEPTH`]).
    depth: usize,
    /// Set while the walk is about to read the top-level query of a materialized table: the next
    /// `SELECT` of that query's own body (not of a CTE or a subquery) records its output columns
    /// in `projection`.
    want_projection: bool,
    /// The output columns of that `SELECT` (`Some(None)`: not knowable from the text).
    projection: Option<Option<Vec<String>>>,
    /// The `WATERMARK FOR` of the last column list read, normalised.
    watermark: Option<String>,
}

impl<'t> Parser<'t> {
    // ---- token access -------------------------------------------------------------------------

    fn peek(&self) -> &'t Token {
        &self.toks[self.pos]
    }

    fn peek_at(&self, ahead: usize) -> &'t Token {
        &self.toks[(self.pos + ahead).min(self.toks.len() - 1)]
    }

    /// Moves past the current token; never past `Eof`.
    fn advance(&mut self) -> &'t Token {
        let token = &self.toks[self.pos];
        if token.kind != TokenKind::Eof {
            self.pos += 1;
        }
        token
    }

    fn at_kw(&self, keyword: &str) -> bool {
        is_kw(self.peek(), keyword)
    }

    fn eat_kw(&mut self, keyword: &str) -> bool {
        let found = self.at_kw(keyword);
        if found {
            self.advance();
        }
        found
    }

    fn expect_kw(&mut self, keyword: &str) -> PResult<()> {
        if self.eat_kw(keyword) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("\"{keyword}\"")))
        }
    }

    fn at_sym(&self, symbol: &str) -> bool {
        is_sym(self.peek(), symbol)
    }

    fn eat_sym(&mut self, symbol: &str) -> bool {
        let found = self.at_sym(symbol);
        if found {
            self.advance();
        }
        found
    }

    fn expect_sym(&mut self, symbol: &str) -> PResult<()> {
        if self.eat_sym(symbol) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("\"{symbol}\"")))
        }
    }

    fn unexpected(&self, expecting: &str) -> ParseError {
        error_at(self.peek(), expecting)
    }

    /// Whether a query starts here, looking through any number of opening parentheses.
    fn query_follows(&self) -> bool {
        let mut ahead = 0;
        while is_sym(self.peek_at(ahead), "(") {
            ahead += 1;
        }
        is_any_kw(self.peek_at(ahead), &["SELECT", "WITH", "VALUES"])
    }

    /// Runs one level of the recursive walk, refusing to go deeper than [`MAX_DEPTH`].
    fn nested<T>(&mut self, walk: fn(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            let mut e = self.unexpected("");
            e.message.push_str(&format!(
                " Nesting too deep: more than {MAX_DEPTH} levels of parentheses, subqueries or \
                 nested expressions."
            ));
            return Err(e);
        }
        self.depth += 1;
        let result = walk(self);
        self.depth -= 1;
        result
    }

    /// The token at an absolute index, `Eof` past the end.
    fn token_at(&self, index: usize) -> &'t Token {
        &self.toks[index.min(self.toks.len() - 1)]
    }

    /// The index just past the group whose opening bracket is at `open`.
    fn after_group(&self, open: usize) -> usize {
        match self.partners.get(open) {
            Some(&close) if close > open => close + 1,
            _ => self.toks.len() - 1,
        }
    }

    /// Whether the call whose argument list opens at `open` is followed by `OVER` (past any
    /// `FILTER (...)`, `WITHIN GROUP (...)` and `IGNORE/RESPECT NULLS`): an aggregate over a window
    /// is an OVER aggregation, not a grouping.
    fn call_is_windowed(&self, open: usize) -> bool {
        let mut at = self.after_group(open);
        if is_kw(self.token_at(at), "FILTER") && is_sym(self.token_at(at + 1), "(") {
            at = self.after_group(at + 1);
        }
        if is_kw(self.token_at(at), "WITHIN")
            && is_kw(self.token_at(at + 1), "GROUP")
            && is_sym(self.token_at(at + 2), "(")
        {
            at = self.after_group(at + 2);
        }
        if is_any_kw(self.token_at(at), &["IGNORE", "RESPECT"])
            && is_kw(self.token_at(at + 1), "NULLS")
        {
            at += 2;
        }
        is_kw(self.token_at(at), "OVER")
    }

    /// Whether the table factor starting here is a table function (`LATERAL TABLE(f(x))`,
    /// `UNNEST(...)`, `TABLE(f(...))` for any `f` but a windowing function): joining one correlates
    /// each row with the function's rows and keeps no state.
    fn table_function_follows(&self) -> bool {
        let token = self.peek();
        if is_kw(token, "LATERAL") {
            return is_kw(self.peek_at(1), "TABLE");
        }
        if is_kw(token, "UNNEST") {
            return true;
        }
        is_kw(token, "TABLE")
            && is_sym(self.peek_at(1), "(")
            && !(is_any_kw(self.peek_at(2), WINDOW_FUNCTIONS) && is_sym(self.peek_at(3), "("))
    }

    // ---- recording ----------------------------------------------------------------------------

    fn record_stateful(&mut self, feature: Stateful) {
        if self.muted == 0 && !self.stateful.contains(&feature) {
            self.stateful.push(feature);
        }
    }

    /// A call to the function named by `name` (the last name part before `(`), whose argument list
    /// opens at `open`. Only bare words name built-ins here: a backquoted name is taken as the
    /// user's own.
    fn record_call(&mut self, name: &Token, open: usize) {
        if name.kind != TokenKind::Word {
            return;
        }
        let feature = if is_any_kw(name, RANKING_FUNCTIONS) {
            Stateful::Ranking
        } else if is_any_kw(name, &["LAG", "LEAD"]) {
            Stateful::LagLead
        } else if is_any_kw(name, WINDOW_FUNCTIONS) {
            Stateful::Window
        } else if is_any_kw(name, AGGREGATE_FUNCTIONS) && !self.call_is_windowed(open) {
            Stateful::Aggregation
        } else {
            return;
        };
        self.record_stateful(feature);
    }

    fn record_read(&mut self, table: TableRef) {
        let shadowed = table.catalog.is_none()
            && table.database.is_none()
            && self
                .cte_scopes
                .iter()
                .any(|scope| scope.contains(&table.name));
        if !shadowed && !self.reads.contains(&table) {
            self.reads.push(table);
        }
    }

    fn record_write(&mut self, table: TableRef) {
        if !self.writes.contains(&table) {
            self.writes.push(table);
        }
    }

    // ---- names --------------------------------------------------------------------------------

    fn identifier(&mut self) -> PResult<String> {
        let token = self.peek();
        match token.kind {
            TokenKind::QuotedIdent => {}
            TokenKind::Word if !is_reserved(&token.text) => {}
            _ => return Err(self.unexpected("an identifier")),
        }
        self.advance();
        Ok(token.text.clone())
    }

    /// `[[catalog.]database.]name`, each part bare or backquoted.
    fn table_name(&mut self) -> PResult<TableRef> {
        let token = self.peek();
        let name_here = match token.kind {
            TokenKind::QuotedIdent => true,
            TokenKind::Word => !is_reserved(&token.text),
            _ => false,
        };
        if !name_here {
            return Err(self.unexpected("a table name"));
        }
        let mut parts = vec![self.identifier()?];
        while self.at_sym(".") {
            if parts.len() == 3 {
                return Err(self.unexpected("at most three name parts (catalog.database.table)"));
            }
            self.advance();
            parts.push(self.identifier()?);
        }
        let name = parts.pop().unwrap_or_default();
        let database = parts.pop();
        let catalog = parts.pop();
        Ok(TableRef {
            catalog,
            database,
            name,
        })
    }

    /// `(a, b, ...)`: a parenthesised list of plain identifiers.
    fn identifier_list(&mut self) -> PResult<Vec<String>> {
        self.expect_sym("(")?;
        let mut names = vec![self.identifier()?];
        while self.eat_sym(",") {
            names.push(self.identifier()?);
        }
        self.expect_sym(")")?;
        Ok(names)
    }

    // ---- lenient runs -------------------------------------------------------------------------

    /// Skips a balanced `( ... )` or `[ ... ]` run starting at the current token. Inside, a run
    /// that opens with `SELECT`/`WITH`/`VALUES` is parsed as a query, and `TABLE name` (the table
    /// argument of a windowing function such as `TUMBLE(TABLE orders, ...)`) is a read; anything
    /// else is taken on trust.
    fn skip_group(&mut self) -> PResult<()> {
        self.nested(Self::skip_group_inner)
    }

    fn skip_group_inner(&mut self) -> PResult<()> {
        let open = self.peek();
        let close = match open.text.as_str() {
            "(" if open.kind == TokenKind::Symbol => ")",
            "[" if open.kind == TokenKind::Symbol => "]",
            _ => return Err(self.unexpected("\"(\"")),
        };
        self.advance();
        if close == ")" && is_any_kw(self.peek(), &["SELECT", "WITH", "VALUES"]) {
            self.record_stateful(Stateful::Subquery);
            self.query()?;
            return self.expect_sym(")");
        }
        if close == ")" && self.at_kw("DISTINCT") {
            // `COUNT(DISTINCT x)`: only the first token of an argument list, so that
            // `IS DISTINCT FROM` inside the arguments does not count.
            self.record_stateful(Stateful::Distinct);
        }
        loop {
            let token = self.peek();
            match token.kind {
                TokenKind::Eof => return Err(self.unexpected(&format!("\"{close}\""))),
                TokenKind::Symbol => match token.text.as_str() {
                    "(" | "[" => self.skip_group()?,
                    ")" | "]" => {
                        if token.text != close {
                            return Err(self.unexpected(&format!("\"{close}\"")));
                        }
                        self.advance();
                        return Ok(());
                    }
                    ";" => return Err(self.unexpected(&format!("\"{close}\""))),
                    _ => {
                        self.advance();
                    }
                },
                TokenKind::Word if is_kw(token, "TABLE") => {
                    self.advance();
                    if matches!(self.peek().kind, TokenKind::Word | TokenKind::QuotedIdent) {
                        let table = self.table_name()?;
                        self.record_read(table);
                    }
                }
                TokenKind::Word if is_kw(token, "OVER") => {
                    self.record_stateful(Stateful::Over);
                    self.advance();
                }
                TokenKind::Word if is_sym(self.peek_at(1), "(") => {
                    // A call nested in arguments, `ROUND(AVG(x), 2)`; its own arguments are
                    // skipped by the next turn of the loop.
                    self.record_call(token, self.pos + 1);
                    self.advance();
                }
                _ => {
                    self.advance();
                }
            }
        }
    }

    /// Skips the rest of a statement the walk does not look inside, up to `;` or the end.
    /// Parentheses are still walked, so a subquery or `TABLE name` inside them is still parsed.
    fn skip_rest(&mut self) -> PResult<()> {
        while !(self.at_sym(";") || self.peek().kind == TokenKind::Eof) {
            if self.at_sym("(") || self.at_sym("[") {
                self.skip_group()?;
            } else {
                self.advance();
            }
        }
        Ok(())
    }

    fn skip_rest_nonempty(&mut self, what: &str) -> PResult<()> {
        if self.at_sym(";") || self.peek().kind == TokenKind::Eof {
            return Err(self.unexpected(what));
        }
        self.skip_rest()
    }

    // ---- statements ---------------------------------------------------------------------------

    fn statement(&mut self) -> PResult<StatementKind> {
        let first = self.peek();
        match first.kind {
            TokenKind::Eof => {
                return Err(self.unexpected("a statement; the input is empty or only comments"))
            }
            TokenKind::Symbol if first.text == "(" => {
                self.query()?;
                return Ok(StatementKind::Select);
            }
            TokenKind::Word => {}
            _ => return Err(self.unexpected("a statement")),
        }
        let word = first.text.to_ascii_uppercase();
        match word.as_str() {
            "SELECT" | "WITH" | "VALUES" | "TABLE" => {
                self.query()?;
                Ok(StatementKind::Select)
            }
            "INSERT" => {
                self.insert()?;
                Ok(StatementKind::Insert)
            }
            "EXECUTE" => {
                self.advance();
                if self.at_kw("INSERT") {
                    self.insert()?;
                    return Ok(StatementKind::Insert);
                }
                if self.eat_kw("PLAN") {
                    self.skip_rest_nonempty("a plan")?;
                    return Ok(StatementKind::Other);
                }
                if !self.eat_kw("STATEMENT") {
                    return Err(self.unexpected("STATEMENT SET, INSERT or PLAN"));
                }
                self.expect_kw("SET")?;
                self.expect_kw("BEGIN")?;
                self.statement_set_body()?;
                Ok(StatementKind::StatementSet)
            }
            "BEGIN" => {
                // The SQL-client form: `BEGIN STATEMENT SET; INSERT ...; INSERT ...; END;`
                self.advance();
                self.expect_kw("STATEMENT")?;
                self.expect_kw("SET")?;
                self.expect_sym(";")?;
                self.statement_set_body()?;
                Ok(StatementKind::StatementSet)
            }
            "CREATE" => self.create(),
            "DROP" => self.drop(),
            "ALTER" => self.alter(),
            "SET" => {
                self.advance();
                self.skip_rest()?;
                Ok(StatementKind::Set)
            }
            "USE" => {
                self.advance();
                self.skip_rest_nonempty("a catalog or database name")?;
                Ok(StatementKind::Use)
            }
            "SHOW" => {
                self.advance();
                self.skip_rest_nonempty("what to show")?;
                Ok(StatementKind::Show)
            }
            "DESCRIBE" | "DESC" => {
                self.advance();
                self.skip_rest_nonempty("a name")?;
                Ok(StatementKind::Describe)
            }
            w if OTHER_STATEMENTS.contains(&w) => {
                self.advance();
                self.skip_rest()?;
                Ok(StatementKind::Other)
            }
            _ => Err(self.unexpected(
                "a statement (SELECT, INSERT, CREATE, DROP, ALTER, EXECUTE STATEMENT SET, SET, USE, SHOW, DESCRIBE, ...)",
            )),
        }
    }

    /// After the statement: an optional `;`, then nothing.
    fn finish(mut self, kind: StatementKind) -> PResult<Analysis> {
        if !self.eat_sym(";") && self.peek().kind != TokenKind::Eof {
            let hint = match kind {
                StatementKind::Select
                | StatementKind::Insert
                | StatementKind::CreateTableAs
                | StatementKind::CreateView
                | StatementKind::CreateMaterializedTable => QUERY_END_HINT,
                StatementKind::AlterMaterializedTable if !self.evolves.is_empty() => QUERY_END_HINT,
                _ => "\";\" or the end of the statement",
            };
            return Err(self.unexpected(hint));
        }
        if self.peek().kind != TokenKind::Eof {
            return Err(self.unexpected("the end of the statement (one statement at a time)"));
        }
        // Only a statement with a query has its features; the others' parentheses are still walked
        // (`EXPLAIN SELECT ...`, a computed column), but nothing of them runs.
        let has_query = matches!(
            kind,
            StatementKind::Select
                | StatementKind::Insert
                | StatementKind::StatementSet
                | StatementKind::CreateTableAs
                | StatementKind::CreateView
                | StatementKind::CreateMaterializedTable
        ) || (kind == StatementKind::AlterMaterializedTable
            && !self.evolves.is_empty());
        if !has_query {
            self.stateful.clear();
        }
        Ok(Analysis {
            kind,
            creates: self.creates,
            evolves: self.evolves,
            drops: self.drops,
            alters: self.alters,
            writes: self.writes,
            reads: self.reads,
            stateful: self.stateful,
        })
    }

    /// `INSERT ...;` repeated, then `END`. Each `INSERT` must end with `;`, as in Flink.
    fn statement_set_body(&mut self) -> PResult<()> {
        let mut inserts = 0;
        loop {
            if self.at_kw("END") && inserts > 0 {
                self.advance();
                return Ok(());
            }
            if !self.at_kw("INSERT") {
                let expecting = if inserts == 0 {
                    "INSERT"
                } else {
                    "INSERT or END"
                };
                return Err(self.unexpected(expecting));
            }
            self.insert()?;
            self.expect_sym(";")?;
            inserts += 1;
        }
    }

    /// `INSERT {INTO | OVERWRITE} name [PARTITION (...)] [(columns)] query`
    fn insert(&mut self) -> PResult<()> {
        self.expect_kw("INSERT")?;
        if !(self.eat_kw("INTO") || self.eat_kw("OVERWRITE")) {
            return Err(self.unexpected("INTO or OVERWRITE"));
        }
        let target = self.table_name()?;
        self.record_write(target);
        if self.eat_kw("PARTITION") {
            self.skip_group()?;
        }
        // `(a, b)` is a column list, `(SELECT ...)` the query itself.
        if self.at_sym("(") && !self.query_follows() {
            self.identifier_list()?;
        }
        self.query()
    }

    fn create(&mut self) -> PResult<StatementKind> {
        self.expect_kw("CREATE")?;
        if self.eat_kw("OR") {
            // `OR ALTER` is the materialized table's evolution; `OR REPLACE` any other object's.
            if self.eat_kw("ALTER") {
                self.expect_kw("MATERIALIZED")?;
                self.expect_kw("TABLE")?;
                return self.create_materialized(true);
            }
            self.expect_kw("REPLACE")?;
        }
        if self.at_kw("MATERIALIZED") && is_kw(self.peek_at(1), "TABLE") {
            self.advance();
            self.advance();
            return self.create_materialized(false);
        }
        self.eat_kw("TEMPORARY");
        if self.eat_kw("TABLE") {
            return self.create_table();
        }
        if self.eat_kw("VIEW") {
            self.if_exists_clause(true)?;
            self.table_name()?;
            if self.at_sym("(") {
                self.identifier_list()?;
            }
            if self.eat_kw("COMMENT") {
                self.string_literal()?;
            }
            self.expect_kw("AS")?;
            self.query()?;
            return Ok(StatementKind::CreateView);
        }
        if is_any_kw(self.peek(), OTHER_OBJECTS) {
            self.skip_rest()?;
            return Ok(StatementKind::Other);
        }
        Err(self.unexpected("TABLE, VIEW, FUNCTION, CATALOG, DATABASE, MODEL, ..."))
    }

    /// After `CREATE [OR ALTER] MATERIALIZED TABLE`.
    fn create_materialized(&mut self, or_alter: bool) -> PResult<StatementKind> {
        let if_not_exists = self.if_exists_clause(true)?;
        let table = self.table_name()?;
        let created = self.materialized_definition(table, if_not_exists, or_alter)?;
        self.record_write(created.table.clone());
        self.creates.push(created);
        Ok(StatementKind::CreateMaterializedTable)
    }

    /// After `ALTER MATERIALIZED TABLE`: a property change, or an evolution (`… AS query`).
    fn alter_materialized(&mut self) -> PResult<StatementKind> {
        self.if_exists_clause(false)?;
        let table = self.table_name()?;
        self.alters.push(table.clone());
        const PROPERTY_CHANGES: &[&str] = &[
            "SET", "RESET", "ADD", "MODIFY", "DROP", "SUSPEND", "RESUME", "REFRESH", "RENAME",
        ];
        if is_any_kw(self.peek(), PROPERTY_CHANGES) {
            // Options, metadata or computed columns, the watermark, the query's run state: no
            // new query, so neither reads nor writes.
            self.skip_rest()?;
            return Ok(StatementKind::AlterMaterializedTable);
        }
        let evolved = self.materialized_definition(table, false, true)?;
        self.record_write(evolved.table.clone());
        self.evolves.push(evolved);
        Ok(StatementKind::AlterMaterializedTable)
    }

    /// `[(elements)] [COMMENT] [DISTRIBUTED …] [WITH (…)] [START_MODE = …] AS query`: the rest of
    /// a materialized table's definition, each clause at most once, `AS query` last and required.
    fn materialized_definition(
        &mut self,
        table: TableRef,
        if_not_exists: bool,
        or_alter: bool,
    ) -> PResult<CreatedTable> {
        let mut created = CreatedTable {
            table,
            if_not_exists,
            columns: Vec::new(),
            primary_key: Vec::new(),
            distributed_by: Vec::new(),
            buckets: None,
            options: Vec::new(),
            like: None,
            materialized: None,
        };
        self.watermark = None;
        if self.at_sym("(") {
            self.table_elements(&mut created)?;
        }
        let watermark = self.watermark.take();
        let mut seen: Vec<&str> = Vec::new();
        let mut start_mode = None;
        loop {
            let token = self.peek();
            let Some(clause) = ["COMMENT", "DISTRIBUTED", "WITH", "START_MODE", "AS"]
                .into_iter()
                .find(|k| is_kw(token, k))
            else {
                return Err(self.unexpected("COMMENT, DISTRIBUTED BY, WITH, START_MODE or AS"));
            };
            if seen.contains(&clause) {
                let mut e = self.unexpected("");
                e.message.push_str(" Each clause may appear only once.");
                return Err(e);
            }
            seen.push(clause);
            self.advance();
            match clause {
                "COMMENT" => {
                    self.string_literal()?;
                }
                "DISTRIBUTED" => self.distribution(&mut created)?,
                "WITH" => created.options = self.options()?,
                "START_MODE" => start_mode = Some(self.start_mode()?),
                _ => break,
            }
        }
        let from = self.pos;
        self.projection = None;
        self.want_projection = true;
        self.query()?;
        self.want_projection = false;
        let query = self.normalized(from, self.pos);
        created.materialized = Some(Materialized {
            or_alter,
            start_mode,
            query,
            watermark,
            query_columns: self.projection.take().flatten(),
        });
        Ok(created)
    }

    /// `= FROM_BEGINNING | FROM_NOW[(interval)] | FROM_TIMESTAMP(ts) | RESUME_OR_…`.
    fn start_mode(&mut self) -> PResult<StartMode> {
        self.expect_sym("=")?;
        const MODES: &[&str] = &[
            "FROM_BEGINNING",
            "FROM_NOW",
            "FROM_TIMESTAMP",
            "RESUME_OR_FROM_BEGINNING",
            "RESUME_OR_FROM_NOW",
            "RESUME_OR_FROM_TIMESTAMP",
        ];
        let token = self.peek();
        let Some(mode) = MODES.iter().find(|m| is_kw(token, m)) else {
            return Err(self.unexpected(
                "FROM_BEGINNING, FROM_NOW, FROM_TIMESTAMP, RESUME_OR_FROM_BEGINNING, \
                 RESUME_OR_FROM_NOW or RESUME_OR_FROM_TIMESTAMP",
            ));
        };
        self.advance();
        let takes_arg = mode.ends_with("NOW") || mode.ends_with("TIMESTAMP");
        let arg = if takes_arg && self.at_sym("(") {
            let open = self.pos;
            let close = self.partners[open];
            self.skip_group()?;
            let inner = self.normalized(open + 1, close);
            if inner.is_empty() {
                return Err(error_at(&self.toks[close], "an interval or a timestamp"));
            }
            Some(inner)
        } else {
            None
        };
        let needs = |arg: Option<String>, what: &str| {
            arg.ok_or_else(|| self.unexpected(&format!("\"(\" and {what}")))
        };
        Ok(match *mode {
            "FROM_BEGINNING" => StartMode::FromBeginning,
            "FROM_NOW" => StartMode::FromNow(arg),
            "FROM_TIMESTAMP" => StartMode::FromTimestamp(needs(arg, "a timestamp")?),
            "RESUME_OR_FROM_BEGINNING" => StartMode::ResumeOrFromBeginning,
            "RESUME_OR_FROM_NOW" => StartMode::ResumeOrFromNow(arg),
            _ => StartMode::ResumeOrFromTimestamp(needs(arg, "a timestamp")?),
        })
    }

    /// Tokens `from..to` as one comparable text: joined by one space, comments gone, reserved
    /// words upper-cased, identifiers backquoted only where they must be.
    fn normalized(&self, from: usize, to: usize) -> String {
        self.toks[from..to.min(self.toks.len())]
            .iter()
            .filter(|t| t.kind != TokenKind::Eof)
            .map(|t| match t.kind {
                TokenKind::Word if is_reserved(&t.text) || is_literal_word(&t.text) => {
                    t.text.to_ascii_uppercase()
                }
                TokenKind::QuotedIdent if !crate::needs_backquotes(&t.text) => t.text.clone(),
                TokenKind::QuotedIdent => format!("`{}`", t.text.replace('`', "``")),
                _ => t.raw.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The name Flink gives a select item without an alias that is a plain column reference
    /// (`c` or `t.c`): the column's. `None` for any other expression.
    fn column_name(&self, from: usize, to: usize) -> Option<String> {
        let toks = &self.toks[from..to];
        let ident = |t: &Token| {
            t.kind == TokenKind::QuotedIdent || (t.kind == TokenKind::Word && !is_reserved(&t.text))
        };
        let shaped = !toks.is_empty()
            && toks.len() % 2 == 1
            && toks.iter().enumerate().all(
                |(i, t)| {
                    if i % 2 == 0 {
                        ident(t)
                    } else {
                        is_sym(t, ".")
                    }
                },
            );
        shaped.then(|| toks[toks.len() - 1].text.clone())
    }

    /// `IF NOT EXISTS` (for CREATE) or `IF EXISTS` (for DROP/ALTER); returns whether present.
    fn if_exists_clause(&mut self, negated: bool) -> PResult<bool> {
        if !self.at_kw("IF") {
            return Ok(false);
        }
        // `if` alone could be a table name; it is a clause only when followed by NOT/EXISTS.
        let next = self.peek_at(1);
        if !(is_kw(next, "NOT") || is_kw(next, "EXISTS")) {
            return Ok(false);
        }
        self.advance();
        if negated {
            self.expect_kw("NOT")?;
        }
        self.expect_kw("EXISTS")?;
        Ok(true)
    }

    fn string_literal(&mut self) -> PResult<String> {
        let token = self.peek();
        if token.kind != TokenKind::Str {
            return Err(self.unexpected("a string literal"));
        }
        self.advance();
        Ok(token.text.clone())
    }

    /// After `CREATE [OR REPLACE] [TEMPORARY] TABLE`.
    fn create_table(&mut self) -> PResult<StatementKind> {
        let if_not_exists = self.if_exists_clause(true)?;
        let table = self.table_name()?;
        let mut created = CreatedTable {
            table,
            if_not_exists,
            columns: Vec::new(),
            primary_key: Vec::new(),
            distributed_by: Vec::new(),
            buckets: None,
            options: Vec::new(),
            like: None,
            materialized: None,
        };
        if self.at_sym("(") {
            self.table_elements(&mut created)?;
        }
        // Flink fixes the order of these clauses, Confluent's documentation shows more than one;
        // each is accepted once, in any order, with `AS query` last.
        let mut seen: Vec<&str> = Vec::new();
        let mut ctas = false;
        loop {
            let token = self.peek();
            let clause = match [
                "COMMENT",
                "PARTITIONED",
                "DISTRIBUTED",
                "WITH",
                "LIKE",
                "AS",
            ]
            .into_iter()
            .find(|k| is_kw(token, k))
            {
                Some(clause) => clause,
                None => break,
            };
            if seen.contains(&clause) {
                let mut e = self.unexpected("");
                e.message.push_str(" Each clause may appear only once.");
                return Err(e);
            }
            seen.push(clause);
            self.advance();
            match clause {
                "COMMENT" => {
                    self.string_literal()?;
                }
                "PARTITIONED" => {
                    self.expect_kw("BY")?;
                    self.identifier_list()?;
                }
                "DISTRIBUTED" => self.distribution(&mut created)?,
                "WITH" => created.options = self.options()?,
                "LIKE" => {
                    let source = self.table_name()?;
                    self.record_read(source.clone());
                    created.like = Some(source);
                    if self.at_sym("(") {
                        self.skip_group()?;
                    }
                }
                _ => {
                    self.query()?;
                    ctas = true;
                    break;
                }
            }
        }
        let kind = if ctas {
            self.record_write(created.table.clone());
            StatementKind::CreateTableAs
        } else {
            StatementKind::CreateTable
        };
        self.creates.push(created);
        Ok(kind)
    }

    /// `DISTRIBUTED BY [HASH|RANGE|RANDOM] (cols) [INTO n BUCKETS]` or `DISTRIBUTED INTO n BUCKETS`.
    fn distribution(&mut self, created: &mut CreatedTable) -> PResult<()> {
        let mut any = false;
        if self.eat_kw("BY") {
            if is_any_kw(self.peek(), &["HASH", "RANGE", "RANDOM"]) && is_sym(self.peek_at(1), "(")
            {
                self.advance();
            }
            created.distributed_by = self.identifier_list()?;
            any = true;
        }
        if self.eat_kw("INTO") {
            let token = self.peek();
            let buckets = match token.kind {
                TokenKind::Number => token.text.parse::<u32>().ok(),
                _ => None,
            };
            match buckets {
                Some(n) => created.buckets = Some(n),
                None => return Err(self.unexpected("a number of buckets")),
            }
            self.advance();
            self.expect_kw("BUCKETS")?;
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(self.unexpected("BY or INTO"))
        }
    }

    /// `('k' = 'v', ...)`, quotes removed, in order.
    fn options(&mut self) -> PResult<Vec<(String, String)>> {
        self.expect_sym("(")?;
        let mut options = Vec::new();
        if self.eat_sym(")") {
            return Ok(options);
        }
        loop {
            let key = if self.peek().kind == TokenKind::Str {
                self.string_literal()?
            } else {
                // Unquoted dotted keys are taken leniently: `connector.type = 'x'`.
                let mut key = self.identifier()?;
                while self.eat_sym(".") {
                    key.push('.');
                    key.push_str(&self.identifier()?);
                }
                key
            };
            self.expect_sym("=")?;
            let token = self.peek();
            let value = match token.kind {
                TokenKind::Str | TokenKind::Number | TokenKind::Word => token.text.clone(),
                _ => return Err(self.unexpected("an option value")),
            };
            self.advance();
            options.push((key, value));
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok(options)
    }

    /// The parenthesised column list of `CREATE TABLE`: columns, `WATERMARK` and constraints.
    fn table_elements(&mut self, created: &mut CreatedTable) -> PResult<()> {
        self.expect_sym("(")?;
        loop {
            if self.at_kw("CONSTRAINT") || self.at_kw("PRIMARY") {
                let at = self.peek();
                let key = self.primary_key_constraint()?;
                set_primary_key(created, key, at)?;
            } else if self.at_kw("WATERMARK") && is_kw(self.peek_at(1), "FOR") {
                self.advance();
                self.advance();
                let from = self.pos;
                self.identifier()?;
                self.expect_kw("AS")?;
                self.expr()?;
                self.watermark = Some(self.normalized(from, self.pos));
            } else {
                self.column(created)?;
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")
    }

    /// `[CONSTRAINT name] PRIMARY KEY (cols) [NOT ENFORCED]` at table level.
    fn primary_key_constraint(&mut self) -> PResult<Vec<String>> {
        if self.eat_kw("CONSTRAINT") {
            self.identifier()?;
        }
        self.expect_kw("PRIMARY")?;
        self.expect_kw("KEY")?;
        let columns = self.identifier_list()?;
        self.not_enforced();
        Ok(columns)
    }

    fn not_enforced(&mut self) {
        if self.at_kw("NOT") && is_kw(self.peek_at(1), "ENFORCED") {
            self.advance();
            self.advance();
        }
    }

    /// One column: `name type [constraints]`, `name AS expr` or `name type METADATA ...`.
    fn column(&mut self, created: &mut CreatedTable) -> PResult<()> {
        let name = self.identifier()?;
        let mut column = Column {
            name: name.clone(),
            data_type: String::new(),
            nullable: true,
            computed: false,
        };
        if self.eat_kw("AS") {
            self.expr()?;
            column.computed = true;
        } else {
            column.data_type = self.data_type()?;
        }
        loop {
            if self.at_kw("NOT") && is_kw(self.peek_at(1), "NULL") {
                self.advance();
                self.advance();
                column.nullable = false;
            } else if self.eat_kw("NULL") {
                column.nullable = true;
            } else if self.eat_kw("METADATA") {
                column.computed = true;
                if self.eat_kw("FROM") {
                    self.string_literal()?;
                }
                self.eat_kw("VIRTUAL");
            } else if self.at_kw("CONSTRAINT") || self.at_kw("PRIMARY") {
                let at = self.peek();
                if self.eat_kw("CONSTRAINT") {
                    self.identifier()?;
                }
                self.expect_kw("PRIMARY")?;
                self.expect_kw("KEY")?;
                self.not_enforced();
                set_primary_key(created, vec![name.clone()], at)?;
            } else if self.eat_kw("COMMENT") {
                self.string_literal()?;
            } else {
                break;
            }
        }
        created.columns.push(column);
        Ok(())
    }

    /// A data type, up to the column's constraints, `,` or `)`, rendered as written with
    /// whitespace normalised: `DECIMAL(10,2)` becomes `DECIMAL(10, 2)`. `NOT NULL` inside angle
    /// brackets (`ARRAY<INT NOT NULL>`) belongs to the type; at the top level it is the column's.
    fn data_type(&mut self) -> PResult<String> {
        let mut parts: Vec<&Token> = Vec::new();
        let mut parens = 0usize;
        let mut angles = 0usize;
        loop {
            let token = self.peek();
            if token.kind == TokenKind::Eof || is_sym(token, ";") {
                break;
            }
            if parens == 0 && angles == 0 {
                let ends = is_sym(token, ",")
                    || is_sym(token, ")")
                    || is_any_kw(
                        token,
                        &[
                            "NOT",
                            "NULL",
                            "METADATA",
                            "PRIMARY",
                            "CONSTRAINT",
                            "COMMENT",
                        ],
                    );
                if ends {
                    break;
                }
            }
            if token.kind == TokenKind::Symbol {
                match token.text.as_str() {
                    "(" => parens += 1,
                    ")" => parens = parens.saturating_sub(1),
                    "<" => angles += 1,
                    ">" => angles = angles.saturating_sub(1),
                    _ => {}
                }
            }
            parts.push(token);
            self.advance();
        }
        if parts.is_empty() {
            return Err(self.unexpected("a data type"));
        }
        Ok(render_type(&parts))
    }

    fn drop(&mut self) -> PResult<StatementKind> {
        self.expect_kw("DROP")?;
        if self.at_kw("MATERIALIZED") && is_kw(self.peek_at(1), "TABLE") {
            self.advance();
            self.advance();
            let if_exists = self.if_exists_clause(false)?;
            let table = self.table_name()?;
            self.drops.push(DroppedTable { table, if_exists });
            return Ok(StatementKind::DropMaterializedTable);
        }
        self.eat_kw("TEMPORARY");
        if self.eat_kw("TABLE") {
            let if_exists = self.if_exists_clause(false)?;
            let table = self.table_name()?;
            self.drops.push(DroppedTable { table, if_exists });
            return Ok(StatementKind::DropTable);
        }
        if self.eat_kw("VIEW") {
            self.if_exists_clause(false)?;
            self.table_name()?;
            return Ok(StatementKind::DropView);
        }
        if is_any_kw(self.peek(), OTHER_OBJECTS) {
            self.skip_rest()?;
            return Ok(StatementKind::Other);
        }
        Err(self.unexpected("TABLE, VIEW, FUNCTION, CATALOG, DATABASE, MODEL, ..."))
    }

    fn alter(&mut self) -> PResult<StatementKind> {
        self.expect_kw("ALTER")?;
        if self.at_kw("MATERIALIZED") && is_kw(self.peek_at(1), "TABLE") {
            self.advance();
            self.advance();
            return self.alter_materialized();
        }
        if self.eat_kw("TABLE") {
            self.if_exists_clause(false)?;
            let table = self.table_name()?;
            self.alters.push(table);
            // What is altered (options, columns, watermark, name) does not change reads or writes.
            self.skip_rest_nonempty("an alteration (SET, ADD, MODIFY, DROP, RENAME, ...)")?;
            return Ok(StatementKind::AlterTable);
        }
        if self.at_kw("VIEW") || is_any_kw(self.peek(), OTHER_OBJECTS) {
            self.skip_rest()?;
            return Ok(StatementKind::Other);
        }
        Err(self.unexpected("TABLE, VIEW, FUNCTION, CATALOG, DATABASE, MODEL, ..."))
    }

    // ---- queries ------------------------------------------------------------------------------

    /// `[WITH ctes] set_expr [ORDER BY ...] [LIMIT ...] [OFFSET ...] [FETCH ...]`
    fn query(&mut self) -> PResult<()> {
        self.nested(Self::query_inner)
    }

    fn query_inner(&mut self) -> PResult<()> {
        // The CTEs' queries are not the query's own body: they must not take its projection.
        let want_projection = std::mem::take(&mut self.want_projection);
        let with = self.eat_kw("WITH");
        if with {
            self.cte_scopes.push(Vec::new());
            loop {
                let name = self.identifier()?;
                if self.at_sym("(") {
                    self.identifier_list()?;
                }
                self.expect_kw("AS")?;
                self.expect_sym("(")?;
                self.query()?;
                self.expect_sym(")")?;
                // Visible only from here on: a CTE's own body that names it reads the real table.
                if let Some(scope) = self.cte_scopes.last_mut() {
                    scope.push(name);
                }
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        self.want_projection = want_projection;
        let result = self.query_body();
        self.want_projection = false;
        if with {
            self.cte_scopes.pop();
        }
        result
    }

    fn query_body(&mut self) -> PResult<()> {
        self.query_term()?;
        while is_any_kw(self.peek(), &["UNION", "INTERSECT", "EXCEPT", "MINUS"]) {
            let union = self.at_kw("UNION");
            self.advance();
            let all = self.eat_kw("ALL");
            if !all {
                self.eat_kw("DISTINCT");
            }
            // UNION ALL only concatenates; every other set operation compares rows across inputs.
            if !(union && all) {
                self.record_stateful(Stateful::SetOperation);
            }
            self.query_term()?;
        }
        if self.at_kw("ORDER") {
            self.record_stateful(Stateful::Sort);
            self.advance();
            self.expect_kw("BY")?;
            loop {
                self.expr()?;
                if !self.eat_kw("ASC") {
                    self.eat_kw("DESC");
                }
                if self.eat_kw("NULLS") && !self.eat_kw("FIRST") {
                    self.expect_kw("LAST")?;
                }
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        // `LIMIT ALL` limits nothing.
        if self.eat_kw("LIMIT") && !self.eat_kw("ALL") {
            self.record_stateful(Stateful::Sort);
            self.expr()?;
        }
        if self.eat_kw("OFFSET") {
            self.record_stateful(Stateful::Sort);
            self.expr()?;
            if !self.eat_kw("ROW") {
                self.eat_kw("ROWS");
            }
        }
        if self.eat_kw("FETCH") {
            self.record_stateful(Stateful::Sort);
            if !self.eat_kw("FIRST") {
                self.expect_kw("NEXT")?;
            }
            if !(self.at_kw("ROW") || self.at_kw("ROWS")) {
                self.expr()?;
            }
            if !self.eat_kw("ROW") {
                self.expect_kw("ROWS")?;
            }
            self.expect_kw("ONLY")?;
        }
        Ok(())
    }

    /// `SELECT ...`, `VALUES ...`, `( query )` or `TABLE name`.
    fn query_term(&mut self) -> PResult<()> {
        if self.at_kw("SELECT") {
            return self.select();
        }
        if self.eat_kw("VALUES") {
            if std::mem::take(&mut self.want_projection) {
                self.projection = Some(None);
            }
            return self.expr_list();
        }
        if self.eat_kw("TABLE") {
            if std::mem::take(&mut self.want_projection) {
                self.projection = Some(None);
            }
            let table = self.table_name()?;
            self.record_read(table);
            return Ok(());
        }
        if self.eat_sym("(") {
            self.query()?;
            return self.expect_sym(")");
        }
        Err(self.unexpected("SELECT, VALUES, WITH or \"(\""))
    }

    fn select(&mut self) -> PResult<()> {
        self.expect_kw("SELECT")?;
        let capture = std::mem::take(&mut self.want_projection);
        if !self.eat_kw("ALL") && self.eat_kw("DISTINCT") {
            self.record_stateful(Stateful::Distinct);
        }
        let mut names: Option<Vec<String>> = Some(Vec::new());
        loop {
            let from = self.pos;
            let star = self.expr()?;
            let end = self.pos;
            let aliased = !star && self.alias()?;
            if capture {
                let name =
                    if star {
                        None
                    } else if aliased {
                        Some(self.toks[self.pos - 1].text.clone())
                    } else {
                        Some(self.column_name(from, end).unwrap_or_else(|| {
                            format!("EXPR${}", names.as_ref().map_or(0, Vec::len))
                        }))
                    };
                match (name, names.as_mut()) {
                    (Some(n), Some(all)) => all.push(n),
                    _ => names = None,
                }
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        if capture {
            self.projection = Some(names);
        }
        if self.eat_kw("FROM") {
            loop {
                self.table_reference()?;
                if !self.eat_sym(",") {
                    break;
                }
                // A comma join, unless the comma brings in a table function.
                if !self.table_function_follows() {
                    self.record_stateful(Stateful::Join);
                }
            }
        }
        if self.eat_kw("WHERE") {
            self.expr()?;
        }
        if self.at_kw("GROUP") {
            self.record_stateful(Stateful::Aggregation);
            self.advance();
            self.expect_kw("BY")?;
            loop {
                if self.at_kw("GROUPING") && is_kw(self.peek_at(1), "SETS") {
                    self.advance();
                    self.advance();
                    self.skip_group()?;
                } else {
                    self.expr()?;
                }
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        if self.eat_kw("HAVING") {
            self.record_stateful(Stateful::Aggregation);
            self.expr()?;
        }
        if self.eat_kw("WINDOW") {
            self.record_stateful(Stateful::Over);
            loop {
                self.identifier()?;
                self.expect_kw("AS")?;
                self.skip_group()?;
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        Ok(())
    }

    /// `[AS] alias`; without `AS`, only a word that cannot start the next clause.
    fn alias(&mut self) -> PResult<bool> {
        if self.eat_kw("AS") {
            self.identifier()?;
            return Ok(true);
        }
        let token = self.peek();
        let is_alias = match token.kind {
            TokenKind::QuotedIdent => true,
            TokenKind::Word => !is_reserved(&token.text),
            _ => false,
        };
        if is_alias {
            self.advance();
        }
        Ok(is_alias)
    }

    /// A table factor followed by any number of joins.
    fn table_reference(&mut self) -> PResult<()> {
        self.table_factor()?;
        loop {
            let natural = self.eat_kw("NATURAL");
            let mut conditional = true;
            if self.eat_kw("JOIN") {
                // A plain (inner) join.
            } else if self.eat_kw("INNER") {
                self.expect_kw("JOIN")?;
            } else if is_any_kw(self.peek(), &["LEFT", "RIGHT", "FULL"]) {
                self.advance();
                self.eat_kw("OUTER");
                self.expect_kw("JOIN")?;
            } else if self.eat_kw("CROSS") {
                conditional = false;
                if !self.eat_kw("APPLY") {
                    self.expect_kw("JOIN")?;
                }
            } else if self.at_kw("OUTER") && is_kw(self.peek_at(1), "APPLY") {
                self.advance();
                self.advance();
                conditional = false;
            } else if natural {
                return Err(self.unexpected("JOIN"));
            } else {
                return Ok(());
            }
            if !self.table_function_follows() {
                self.record_stateful(Stateful::Join);
            }
            self.table_factor()?;
            if conditional {
                if self.eat_kw("ON") {
                    self.expr()?;
                } else if self.eat_kw("USING") {
                    self.identifier_list()?;
                }
            }
        }
    }

    fn table_factor(&mut self) -> PResult<()> {
        self.nested(Self::table_factor_inner)
    }

    fn table_factor_inner(&mut self) -> PResult<()> {
        if self.eat_kw("LATERAL") {
            if self.eat_kw("TABLE") {
                // A table function: its arguments are not tables.
                self.skip_group()?;
            } else {
                self.expect_sym("(")?;
                self.query()?;
                self.expect_sym(")")?;
            }
        } else if self.at_kw("TABLE") && is_sym(self.peek_at(1), "(") {
            // `TABLE(TUMBLE(TABLE orders, ...))`: the inner `TABLE orders` is the read.
            self.advance();
            self.skip_group()?;
        } else if self.eat_kw("UNNEST") {
            if !self.at_sym("(") {
                return Err(self.unexpected("\"(\""));
            }
            self.skip_group()?;
            if self.at_kw("WITH") && is_kw(self.peek_at(1), "ORDINALITY") {
                self.advance();
                self.advance();
            }
        } else if self.at_sym("(") {
            if self.query_follows() {
                self.advance();
                self.query()?;
            } else {
                // A parenthesised join: `FROM (a JOIN b ON ...)`.
                self.advance();
                self.table_reference()?;
            }
            self.expect_sym(")")?;
        } else {
            let table = self.table_name()?;
            self.record_read(table);
            if self.eat_kw("FOR") {
                // Temporal join: `FOR SYSTEM_TIME AS OF o.$rowtime`.
                self.expect_kw("SYSTEM_TIME")?;
                self.expect_kw("AS")?;
                self.expect_kw("OF")?;
                self.expr()?;
            }
        }
        // MATCH_RECOGNIZE applies to the table before it and may carry its own alias.
        if self.match_recognize()? {
            self.alias()?;
        } else if self.alias()? {
            if self.at_sym("(") {
                self.identifier_list()?;
            }
            if self.match_recognize()? {
                self.alias()?;
            }
        }
        Ok(())
    }

    fn match_recognize(&mut self) -> PResult<bool> {
        if !self.eat_kw("MATCH_RECOGNIZE") {
            return Ok(false);
        }
        self.record_stateful(Stateful::MatchRecognize);
        if !self.at_sym("(") {
            return Err(self.unexpected("\"(\""));
        }
        self.muted += 1;
        let body = self.skip_group();
        self.muted -= 1;
        body?;
        Ok(true)
    }

    // ---- expressions --------------------------------------------------------------------------

    /// Comma-separated expressions (at least one).
    fn expr_list(&mut self) -> PResult<()> {
        loop {
            self.expr()?;
            if !self.eat_sym(",") {
                return Ok(());
            }
        }
    }

    /// Operands joined by operators. Returns whether the expression is a star (`*` or `t.*`),
    /// which takes no alias. It stops at the first token that can neither continue nor join the
    /// expression; the caller decides whether that token is welcome.
    fn expr(&mut self) -> PResult<bool> {
        let mut star = self.operand()?;
        loop {
            let token = self.peek();
            if is_kw(token, "IS") {
                self.advance();
                self.eat_kw("NOT");
                if self.eat_kw("DISTINCT") {
                    self.expect_kw("FROM")?;
                    star = self.operand()?;
                } else if is_any_kw(self.peek(), &["NULL", "TRUE", "FALSE", "UNKNOWN"]) {
                    self.advance();
                    star = false;
                } else {
                    return Err(self.unexpected("NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM"));
                }
                continue;
            }
            // `NOT` in operator position only negates IN / LIKE / BETWEEN / SIMILAR.
            if is_kw(token, "NOT")
                && is_any_kw(self.peek_at(1), &["IN", "LIKE", "BETWEEN", "SIMILAR"])
            {
                self.advance();
                continue;
            }
            if is_kw(token, "IN") {
                self.advance();
                if !self.at_sym("(") {
                    return Err(self.unexpected("\"(\""));
                }
                self.parenthesised()?;
                star = false;
                continue;
            }
            if is_kw(token, "SIMILAR") {
                self.advance();
                self.expect_kw("TO")?;
                star = self.operand()?;
                continue;
            }
            if is_kw(token, "BETWEEN") {
                self.advance();
                if !self.eat_kw("SYMMETRIC") {
                    self.eat_kw("ASYMMETRIC");
                }
                star = self.operand()?;
                continue;
            }
            // BETWEEN's `AND` is read as an ordinary AND: the walk needs no precedence.
            if is_any_kw(token, &["AND", "OR", "LIKE", "ESCAPE"])
                || (token.kind == TokenKind::Symbol
                    && BINARY_SYMBOLS.contains(&token.text.as_str()))
            {
                self.advance();
                star = self.operand()?;
                continue;
            }
            return Ok(star);
        }
    }

    /// `( ... )` in an expression: a subquery, a (possibly empty) list of expressions or a row.
    fn parenthesised(&mut self) -> PResult<()> {
        self.expect_sym("(")?;
        if self.query_follows() {
            self.record_stateful(Stateful::Subquery);
            self.query()?;
        } else if !self.at_sym(")") {
            self.expr_list()?;
        }
        self.expect_sym(")")
    }

    /// One operand with its prefix operators and postfix accessors. Returns whether it is a star.
    fn operand(&mut self) -> PResult<bool> {
        self.nested(Self::operand_inner)
    }

    fn operand_inner(&mut self) -> PResult<bool> {
        let token = self.peek();
        let mut star = false;
        match token.kind {
            TokenKind::Symbol => match token.text.as_str() {
                "-" | "+" | "~" => {
                    self.advance();
                    return self.operand().map(|_| false);
                }
                "(" => self.parenthesised()?,
                "*" => {
                    self.advance();
                    star = true;
                }
                "?" => {
                    self.advance();
                }
                _ => return Err(self.unexpected("an expression")),
            },
            TokenKind::Str => {
                // Adjacent literals concatenate: 'a' 'b'.
                while self.peek().kind == TokenKind::Str {
                    self.advance();
                }
            }
            TokenKind::Number => {
                self.advance();
            }
            TokenKind::QuotedIdent => star = self.name_or_call()?,
            TokenKind::Word => star = self.word_operand()?,
            TokenKind::Eof => return Err(self.unexpected("an expression")),
        }
        // Postfix accessors: field access and subscripts, after any operand.
        loop {
            if self.at_sym(".")
                && matches!(
                    self.peek_at(1).kind,
                    TokenKind::Word | TokenKind::QuotedIdent
                )
            {
                self.advance();
                self.advance();
            } else if self.at_sym("[") {
                self.skip_group()?;
            } else {
                return Ok(star);
            }
        }
    }

    fn word_operand(&mut self) -> PResult<bool> {
        let token = self.peek();
        let next = self.peek_at(1);
        let word = token.text.to_ascii_uppercase();
        match word.as_str() {
            "NOT" => {
                self.advance();
                self.operand().map(|_| false)
            }
            "NULL" | "TRUE" | "FALSE" | "UNKNOWN" => {
                self.advance();
                Ok(false)
            }
            "CASE" => {
                self.advance();
                self.case_expr()?;
                Ok(false)
            }
            "EXISTS" => {
                self.advance();
                if !self.at_sym("(") {
                    return Err(self.unexpected("\"(\""));
                }
                self.parenthesised()?;
                Ok(false)
            }
            "INTERVAL" => {
                self.advance();
                self.interval()?;
                Ok(false)
            }
            "DATE" | "TIME" | "TIMESTAMP" if next.kind == TokenKind::Str => {
                self.advance();
                self.advance();
                Ok(false)
            }
            // Reserved words that are also function names.
            "LEFT" | "RIGHT" | "ALL" if is_sym(next, "(") => {
                self.advance();
                self.skip_group()?;
                Ok(false)
            }
            _ if is_reserved(&word) => Err(self.unexpected("an expression")),
            _ => self.name_or_call(),
        }
    }

    /// `a.b.c`, `t.*`, or a function call `f(...)` with its `FILTER`/`WITHIN GROUP`/`OVER` tail.
    fn name_or_call(&mut self) -> PResult<bool> {
        let mut last = self.advance();
        loop {
            if !self.at_sym(".") {
                break;
            }
            let next = self.peek_at(1);
            if is_sym(next, "*") {
                self.advance();
                self.advance();
                return Ok(true);
            }
            if !matches!(next.kind, TokenKind::Word | TokenKind::QuotedIdent) {
                break;
            }
            self.advance();
            last = self.advance();
        }
        if !self.at_sym("(") {
            return Ok(false);
        }
        self.record_call(last, self.pos);
        self.skip_group()?;
        if self.at_kw("FILTER") && is_sym(self.peek_at(1), "(") {
            self.advance();
            self.skip_group()?;
        }
        if self.at_kw("WITHIN") && is_kw(self.peek_at(1), "GROUP") {
            self.advance();
            self.advance();
            self.skip_group()?;
        }
        if is_any_kw(self.peek(), &["IGNORE", "RESPECT"]) && is_kw(self.peek_at(1), "NULLS") {
            self.advance();
            self.advance();
        }
        if self.eat_kw("OVER") {
            self.record_stateful(Stateful::Over);
            if self.at_sym("(") {
                self.skip_group()?;
            } else {
                self.identifier()?;
            }
        }
        Ok(false)
    }

    /// After `CASE`: `[operand] WHEN .. THEN .. [WHEN ..]* [ELSE ..] END`.
    fn case_expr(&mut self) -> PResult<()> {
        if !self.at_kw("WHEN") {
            self.expr()?;
        }
        if !self.at_kw("WHEN") {
            return Err(self.unexpected("WHEN"));
        }
        while self.eat_kw("WHEN") {
            self.expr()?;
            self.expect_kw("THEN")?;
            self.expr()?;
        }
        if self.eat_kw("ELSE") {
            self.expr()?;
        }
        self.expect_kw("END")
    }

    /// After `INTERVAL`: `[-] 'literal' [unit [(p)] [TO unit [(p)]]]`.
    fn interval(&mut self) -> PResult<()> {
        if self.at_sym("-") || self.at_sym("+") {
            self.advance();
        }
        if !matches!(self.peek().kind, TokenKind::Str | TokenKind::Number) {
            return Err(self.unexpected("an interval literal"));
        }
        self.advance();
        if self.interval_unit()? && self.eat_kw("TO") && !self.interval_unit()? {
            return Err(self.unexpected("an interval unit"));
        }
        Ok(())
    }

    fn interval_unit(&mut self) -> PResult<bool> {
        if !is_any_kw(self.peek(), INTERVAL_UNITS) {
            return Ok(false);
        }
        self.advance();
        if self.at_sym("(") {
            self.skip_group()?;
        }
        Ok(true)
    }
}

/// A table has one primary key, declared at column or at table level.
fn set_primary_key(created: &mut CreatedTable, key: Vec<String>, at: &Token) -> PResult<()> {
    if !created.primary_key.is_empty() {
        let mut e = error_at(at, "");
        e.message.push_str(" Duplicate primary key definition.");
        return Err(e);
    }
    created.primary_key = key;
    Ok(())
}

/// Joins type tokens with single spaces, except around brackets, dots and before commas.
fn render_type(parts: &[&Token]) -> String {
    let mut out = String::new();
    let mut previous: Option<&Token> = None;
    for token in parts {
        if let Some(prev) = previous {
            let glued_after =
                prev.kind == TokenKind::Symbol && matches!(prev.text.as_str(), "(" | "<" | ".");
            let glued_before = token.kind == TokenKind::Symbol
                && matches!(token.text.as_str(), "(" | ")" | "," | "<" | ">" | ".");
            if !glued_after && !glued_before {
                out.push(' ');
            }
        }
        out.push_str(&token.raw);
        previous = Some(token);
    }
    out
}
