import CSQLite
import CSQLiteWAL
import DroverCore

// SQLite's "copy the bytes now" destructor, -1 cast to a function pointer: the C macro is not
// imported. A constant with no state, so sharing it across threads is safe.
nonisolated(unsafe) private let transient = unsafeBitCast(
  OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// One SQLite connection with a cache of prepared statements.
///
/// Used from one thread at a time (opened with `SQLITE_OPEN_NOMUTEX`), like the store that owns
/// it. `package` so the driver's tests can craft foreign databases and read query plans.
package final class SQLiteConnection {
  let handle: OpaquePointer
  let path: String
  // Keyed by the address of the SQL literal's bytes: hashing an address instead of the text
  // took 3% off the group commit's instruction count.
  private var cache: [UInt: SQLiteStatement] = [:]
  /// Statements of `SQLRowsText`, one per (text, row count).
  private var rowsCache: [SQLRowsText.Key: SQLiteStatement] = [:]

  /// Opens `path`. `create` allows making a missing file; `readOnly` opens for reading only
  /// (used to inspect a file before anything may write to it); `immutable` (read-only) also
  /// skips locking and never creates `-wal`/`-shm` files beside the database; `noFollow`
  /// refuses a `path` that is a symbolic link.
  package init(
    path: String, create: Bool = true, readOnly: Bool = false, immutable: Bool = false,
    noFollow: Bool = false
  ) throws(StoreError) {
    var flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
    if noFollow { flags |= SQLITE_OPEN_NOFOLLOW }
    if readOnly || immutable {
      flags |= SQLITE_OPEN_READONLY
    } else {
      flags |= SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
    }
    var name = path
    if immutable {
      flags |= SQLITE_OPEN_URI
      name = "file:" + Self.uriEscaped(path) + "?immutable=1"
    }
    var db: OpaquePointer?
    let rc = sqlite3_open_v2(name, &db, flags, sqliteVFS)
    guard rc == SQLITE_OK, let db else {
      let reason =
        db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
      sqlite3_close_v2(db)
      throw .cannotOpen(path: path, reason: reason)
    }
    self.handle = db
    self.path = path
  }

  /// `path` with every byte but unreserved ones and `/` percent-encoded, for a `file:` URI.
  static func uriEscaped(_ path: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for b in path.utf8 {
      switch b {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "/"), UInt8(ascii: "-"),
        UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
        out.append(b)
      default:
        out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  deinit {
    for statement in cache.values { sqlite3_finalize(statement.handle) }
    for statement in rowsCache.values { sqlite3_finalize(statement.handle) }
    sqlite3_close_v2(handle)
  }

  /// Waits up to `duration` for another connection's lock instead of failing with SQLITE_BUSY.
  func setBusyTimeout(_ duration: Duration) {
    sqlite3_busy_timeout(handle, Int32(clamping: max(0, duration.milliseconds)))
  }

  /// The error for result code `rc`, with SQLite's message for this connection.
  func error(_ rc: Int32) -> StoreError {
    Self.storeError(rc, message: String(cString: sqlite3_errmsg(handle)))
  }

  /// The driver-neutral error for SQLite result code `rc` (primary or extended): BUSY and LOCKED
  /// are `.busy`, FULL `.full`, CORRUPT and NOTADB `.corrupt`, READONLY `.readOnly`,
  /// CONSTRAINT `.conflict`, anything else (IOERR, CANTOPEN, …) `.unavailable`. The detail text
  /// keeps the extended code: `sqlite error 1555: UNIQUE constraint failed: …`.
  package static func storeError(_ rc: Int32, message: String) -> StoreError {
    let detail = "sqlite error \(rc): \(message)"
    switch rc & 0xff {
    case SQLITE_BUSY, SQLITE_LOCKED: return .busy(detail)
    case SQLITE_FULL: return .full(detail)
    case SQLITE_CORRUPT, SQLITE_NOTADB: return .corrupt(detail)
    case SQLITE_READONLY: return .readOnly(detail)
    case SQLITE_CONSTRAINT: return .conflict(detail)
    default: return .unavailable(detail)
    }
  }

  /// The rowid of the last successful INSERT on this connection.
  var lastInsertID: Int64 { sqlite3_last_insert_rowid(handle) }

  /// What the "drover-wal" VFS did on this connection's `-wal` file: frame writes gathered,
  /// and the writes they became. Nil without a WAL open through it.
  package var walWrites: (gathered: UInt64, flushes: UInt64)? {
    var counts = drover_wal_vfs_counts()
    guard drover_wal_vfs_file_counts(UnsafeMutableRawPointer(handle), &counts) == 0 else {
      return nil
    }
    return (counts.gathered, counts.flushes)
  }

  /// Runs one or more statements that take no parameters (DDL, pragmas, BEGIN/COMMIT).
  package func execute(_ sql: String) throws(StoreError) {
    let rc = sqlite3_exec(handle, sql, nil, nil, nil)
    guard rc == SQLITE_OK else { throw error(rc) }
  }

  /// The cached prepared statement for `sql`, reset and with its bindings cleared.
  func prepare(_ sql: SQLText) throws(StoreError) -> SQLiteStatement {
    if let cached = cache[sql.key] {
      cached.reset()
      return cached
    }
    let statement = try sql.text.withUTF8Buffer { compile($0) }.get()
    cache[sql.key] = statement
    return statement
  }

  /// The cached prepared statement of `sql` for `rows` rows (1 ... `SQLRowsText.maxRows`),
  /// reset and with its bindings cleared.
  func prepare(_ sql: SQLRowsText, rows: Int) throws(StoreError) -> SQLiteStatement {
    let key = SQLRowsText.Key(text: sql.key, rows: rows)
    if let cached = rowsCache[key] {
      cached.reset()
      return cached
    }
    var text = sql.text(rows: rows)
    let statement = try text.withUTF8 { compile($0) }.get()
    rowsCache[key] = statement
    return statement
  }

  /// Prepares the SQL in `bytes` for keeping (a cache's entry).
  private func compile(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<SQLiteStatement, StoreError> {
    var raw: OpaquePointer?
    let chars = UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self)
    let rc = sqlite3_prepare_v3(
      handle, chars, Int32(bytes.count), UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
    guard rc == SQLITE_OK, let raw else { return .failure(error(rc)) }
    return .success(SQLiteStatement(handle: raw, connection: handle))
  }

  /// Runs a statement that returns no rows (or whose rows are not wanted) with `values` bound
  /// to `?1 …`; returns the number of rows it changed.
  @discardableResult
  func run<each V: SQLiteBindable>(_ sql: SQLText, _ values: repeat each V) throws(StoreError)
    -> Int
  {
    let st = try prepare(sql)
    defer { st.reset() }
    try st.bind(repeat each values)
    while try st.step() {}
    return Int(sqlite3_changes(handle))
  }

  /// The first column of the first row as an integer, or nil when there is no row or it is NULL.
  func int64<each V: SQLiteBindable>(_ sql: SQLText, _ values: repeat each V) throws(StoreError)
    -> Int64?
  {
    let st = try prepare(sql)
    defer { st.reset() }
    try st.bind(repeat each values)
    guard try st.step() else { return nil }
    return st.optionalInt64(0)
  }

  /// Every row's first column as text (NULL as ""), for pragmas and query plans in tests.
  package func strings(_ sql: String, column: Int32 = 0) throws(StoreError) -> [String] {
    var raw: OpaquePointer?
    let rc = sqlite3_prepare_v2(handle, sql, -1, &raw, nil)
    guard rc == SQLITE_OK, let raw else { throw error(rc) }
    defer { sqlite3_finalize(raw) }
    let st = SQLiteStatement(handle: raw, connection: handle)
    var out: [String] = []
    while try st.step() { out.append(st.optionalText(column) ?? "") }
    return out
  }

  /// The `detail` lines of `EXPLAIN QUERY PLAN sql`.
  package func queryPlan(_ sql: String) throws(StoreError) -> [String] {
    try strings("EXPLAIN QUERY PLAN " + sql, column: 3)
  }

  /// Runs `body` in one transaction: `BEGIN IMMEDIATE` (takes the write lock up front, so no
  /// deadlock between two readers upgrading) or a deferred `BEGIN` for reads. Commits when
  /// `body` returns, rolls back when it throws.
  func transaction<T>(write: Bool, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
    try run(write ? "BEGIN IMMEDIATE" : "BEGIN")
    let result: T
    do {
      result = try body()
    } catch {
      rollback()
      throw error
    }
    do {
      try run("COMMIT")
    } catch {
      rollback()
      throw error
    }
    return result
  }

  private func rollback() {
    // After some errors SQLite has already rolled back; then there is nothing left to undo.
    if sqlite3_get_autocommit(handle) == 0 { _ = try? run("ROLLBACK") }
  }
}

/// A prepared statement owned by a `SQLiteConnection`'s cache.
final class SQLiteStatement {
  let handle: OpaquePointer
  private let connection: OpaquePointer

  init(handle: OpaquePointer, connection: OpaquePointer) {
    self.handle = handle
    self.connection = connection
  }

  func reset() {
    sqlite3_reset(handle)
    sqlite3_clear_bindings(handle)
  }

  /// Binds `values` to parameters 1, 2, ….
  func bind<each V: SQLiteBindable>(_ values: repeat each V) throws(StoreError) {
    var index: Int32 = 1
    for value in repeat each values {
      let rc = value.bind(to: handle, at: index)
      guard rc == SQLITE_OK else { throw failure(rc) }
      index += 1
    }
  }

  /// Binds row `row` (0-based) of a `SQLRowsText` statement: `values` are its columns in order.
  func bind<each V: SQLiteBindable>(row: Int, of sql: SQLRowsText, _ values: repeat each V)
    throws(StoreError)
  {
    var index = sql.firstIndex(row: row)
    for value in repeat each values {
      let rc = value.bind(to: handle, at: index)
      guard rc == SQLITE_OK else { throw failure(rc) }
      index += 1
    }
  }

  /// Binds one value at a 1-based parameter index.
  func bind(_ value: some SQLiteBindable, at index: Int32) throws(StoreError) {
    let rc = value.bind(to: handle, at: index)
    guard rc == SQLITE_OK else { throw failure(rc) }
  }

  /// Advances; true when a row is available, false when done.
  func step() throws(StoreError) -> Bool {
    switch sqlite3_step(handle) {
    case SQLITE_ROW: return true
    case SQLITE_DONE: return false
    case let rc: throw failure(rc)
    }
  }

  private func failure(_ rc: Int32) -> StoreError {
    SQLiteConnection.storeError(rc, message: String(cString: sqlite3_errmsg(connection)))
  }

  func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

  func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

  func optionalInt64(_ column: Int32) -> Int64? {
    sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
  }

  func optionalDouble(_ column: Int32) -> Double? {
    sqlite3_column_type(handle, column) == SQLITE_NULL
      ? nil : sqlite3_column_double(handle, column)
  }

  func text(_ column: Int32) -> String { optionalText(column) ?? "" }

  func optionalText(_ column: Int32) -> String? {
    guard let p = sqlite3_column_text(handle, column) else { return nil }
    let n = Int(sqlite3_column_bytes(handle, column))
    return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
  }
}

/// A Swift value that binds to a statement parameter.
protocol SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32
}

extension Int64: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    sqlite3_bind_int64(statement, index, self)
  }
}

extension Int: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    sqlite3_bind_int64(statement, index, Int64(self))
  }
}

extension Int32: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    sqlite3_bind_int64(statement, index, Int64(self))
  }
}

extension Bool: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    sqlite3_bind_int64(statement, index, self ? 1 : 0)
  }
}

extension Timestamp: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    sqlite3_bind_int64(statement, index, micros)
  }
}

extension String: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    // Bound with its length, so an embedded NUL does not cut the text short; an empty string
    // needs a non-nil pointer or SQLite would store NULL.
    var copy = self
    return copy.withUTF8 { bytes -> Int32 in
      guard let base = bytes.baseAddress, bytes.count > 0 else {
        return sqlite3_bind_text(statement, index, "", 0, transient)
      }
      return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
        sqlite3_bind_text(statement, index, $0, Int32(bytes.count), transient)
      }
    }
  }
}

extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
  func bind(to statement: OpaquePointer, at index: Int32) -> Int32 {
    switch self {
    case .some(let value): value.bind(to: statement, at: index)
    case .none: sqlite3_bind_null(statement, index)
    }
  }
}

/// Process-wide SQLite set-up, done once before the first connection opens (a Swift global is
/// initialised lazily and exactly once): memory statistics off, and the "drover-wal" VFS
/// registered (a commit's WAL frames in one write; see `CSQLiteWAL`). Its value is the VFS
/// connections open with: nil (SQLite's default) if registering failed.
let sqliteVFS: String? = {
  _ = drover_sqlite_disable_memstatus()
  return drover_wal_vfs_register() == SQLITE_OK ? DROVER_WAL_VFS_NAME : nil
}()
