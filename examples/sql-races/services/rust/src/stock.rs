//! What the order and inventory services do to a product's row, one function per mode (as the
//! TypeScript services' `src/stock.mjs`). `naive` is the docs' code as written; the others are
//! the usual fixes, which Raceway recognises from the SQL alone.

use crate::db::{is_retryable, Db};

#[derive(Clone, Copy)]
pub enum Column {
    Stock,
    Reserved,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn missing(id: i32) -> Error {
    format!("product {id} not found").into()
}

/// The docs' read-modify-write: two of these at once both read the same stock, and one
/// decrement is lost.
async fn naive(db: &Db, id: i32) -> Result<(), Error> {
    let row = db
        .row("SELECT stock FROM products WHERE id = $1", &[id])
        .await?;
    let stock = row.ok_or_else(|| missing(id))?[0];
    db.execute(
        "UPDATE products SET stock = $1 WHERE id = $2",
        &[stock - 1, id],
    )
    .await?;
    Ok(())
}

/// The database does the arithmetic: nothing read, nothing lost.
async fn atomic(db: &Db, id: i32) -> Result<(), Error> {
    db.execute("UPDATE products SET stock = stock - 1 WHERE id = $1", &[id])
        .await?;
    Ok(())
}

/// The row is locked from the read to the commit: `SELECT ... FOR UPDATE` on PostgreSQL;
/// SQLite has no row locks, `BEGIN IMMEDIATE` takes the database's write lock up front.
async fn for_update(db: &Db, id: i32) -> Result<(), Error> {
    let sqlite = db.is_sqlite();
    let mut tx = db.begin(sqlite.then_some("BEGIN IMMEDIATE")).await?;
    let select = if sqlite {
        "SELECT stock FROM products WHERE id = $1"
    } else {
        "SELECT stock FROM products WHERE id = $1 FOR UPDATE"
    };
    let result = async {
        let stock = tx.row(select, &[id]).await?.ok_or_else(|| missing(id))?[0];
        tx.execute(
            "UPDATE products SET stock = $1 WHERE id = $2",
            &[stock - 1, id],
        )
        .await?;
        Ok::<_, Error>(())
    }
    .await;
    match result {
        Ok(()) => Ok(tx.commit().await?),
        Err(error) => {
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// Compare-and-set on a version column: the write applies only if nobody wrote since the read;
/// otherwise read again.
async fn version(db: &Db, id: i32) -> Result<u32, Error> {
    for attempt in 0..20 {
        let row = db
            .row("SELECT stock, version FROM products WHERE id = $1", &[id])
            .await?
            .ok_or_else(|| missing(id))?;
        let (stock, version) = (row[0], row[1]);
        let changed = db
            .execute(
                "UPDATE products SET stock = $1, version = $2 WHERE id = $3 AND version = $4",
                &[stock - 1, version + 1, id, version],
            )
            .await?;
        if changed == 1 {
            return Ok(attempt);
        }
    }
    Err(format!("product {id}: version conflict 20 times in a row").into())
}

/// A serializable transaction, retried when the database refuses it (PostgreSQL's SQLSTATE
/// 40001). SQLite's transactions are serializable; its way to run one that writes without
/// failing at the write is `BEGIN IMMEDIATE`, retried when the database stays busy.
async fn serializable(db: &Db, id: i32) -> Result<u32, Error> {
    let begin = if db.is_sqlite() {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN ISOLATION LEVEL SERIALIZABLE"
    };
    for attempt in 0..20 {
        let mut tx = match db.begin(Some(begin)).await {
            Ok(tx) => tx,
            Err(error) if is_retryable(&error) => continue,
            Err(error) => return Err(error.into()),
        };
        let result = async {
            let stock = tx
                .row("SELECT stock FROM products WHERE id = $1", &[id])
                .await?
                .ok_or(sqlx::Error::RowNotFound)?[0];
            tx.execute(
                "UPDATE products SET stock = $1 WHERE id = $2",
                &[stock - 1, id],
            )
            .await?;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        let result = match result {
            Ok(()) => tx.commit().await,
            Err(error) => {
                let _ = tx.rollback().await;
                Err(error)
            }
        };
        match result {
            Ok(()) => return Ok(attempt),
            Err(error) if is_retryable(&error) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(format!("product {id}: serialization failure 20 times in a row").into())
}

/// The same read-modify-write on a column of its own (`reserved` for the inventory, `stock`
/// for the order): the two services touch one row but never the same column.
async fn column_disjoint(db: &Db, id: i32, column: Column) -> Result<(), Error> {
    if let Column::Stock = column {
        return naive(db, id).await;
    }
    let row = db
        .row("SELECT reserved FROM products WHERE id = $1", &[id])
        .await?;
    let reserved = row.ok_or_else(|| missing(id))?[0];
    db.execute(
        "UPDATE products SET reserved = $1 WHERE id = $2",
        &[reserved + 1, id],
    )
    .await?;
    Ok(())
}

/// Runs `mode` against product `id`: how many times it retried.
pub async fn take_one(db: &Db, mode: &str, id: i32, column: Column) -> Result<u32, Error> {
    match mode {
        "naive" => naive(db, id).await.map(|()| 0),
        "atomic" => atomic(db, id).await.map(|()| 0),
        "for-update" => for_update(db, id).await.map(|()| 0),
        "version" => version(db, id).await,
        "serializable" => serializable(db, id).await,
        "column-disjoint" => column_disjoint(db, id, column).await.map(|()| 0),
        other => Err(format!("unknown mode {other}").into()),
    }
}
