//! Savepoints as the driver wrappers open and record them (spec 4.3): named by how deep they
//! are inside their transaction, and ended with the SQL standard's statements, which
//! PostgreSQL and SQLite both take, so that every wrapper records them in one form.

/// One savepoint: its name and the statements that open, release and roll back to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SavepointSql {
    prefix: &'static str,
    level: usize,
}

impl SavepointSql {
    /// The savepoint `level` deep inside a transaction (1 for the outermost), named
    /// `<prefix><level>`: the prefix is the one the driver uses, if it names savepoints itself,
    /// so that the statements recorded are the ones it sends.
    pub(crate) fn new(prefix: &'static str, level: usize) -> Self {
        SavepointSql { prefix, level }
    }

    /// `SAVEPOINT <name>`.
    pub(crate) fn begin(self) -> String {
        format!("SAVEPOINT {}{}", self.prefix, self.level)
    }

    /// `RELEASE SAVEPOINT <name>`: its changes become the enclosing transaction's.
    pub(crate) fn release(self) -> String {
        format!("RELEASE SAVEPOINT {}{}", self.prefix, self.level)
    }

    /// `ROLLBACK TO SAVEPOINT <name>`: its changes are undone; it stays open.
    pub(crate) fn rollback_to(self) -> String {
        format!("ROLLBACK TO SAVEPOINT {}{}", self.prefix, self.level)
    }
}
