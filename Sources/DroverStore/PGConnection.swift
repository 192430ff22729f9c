import CLibPQ
import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// A value bound to a statement parameter, in PostgreSQL's text format (nil: SQL NULL).
package protocol PGValue {
  var pgText: String? { get }
}

extension String: PGValue { package var pgText: String? { self } }
extension Int: PGValue { package var pgText: String? { String(self) } }
extension Int64: PGValue { package var pgText: String? { String(self) } }
extension Int32: PGValue { package var pgText: String? { String(self) } }
extension Bool: PGValue { package var pgText: String? { self ? "t" : "f" } }
extension Timestamp: PGValue { package var pgText: String? { String(micros) } }
extension Optional: PGValue where Wrapped: PGValue {
  package var pgText: String? { self?.pgText }
}

/// Array parameters (`$1::bigint[]`, `$2::text[]`) in PostgreSQL's array literal syntax: one
/// parameter carries a whole batch, so a group commit is a few statements whatever its size.
package enum PGArray {
  /// `{1,2,NULL}`.
  package static func ints<T: BinaryInteger>(_ values: [T?]) -> String {
    var s = "{"
    for (i, v) in values.enumerated() {
      if i > 0 { s += "," }
      s += v.map { String($0) } ?? "NULL"
    }
    return s + "}"
  }

  package static func ints<T: BinaryInteger>(_ values: [T]) -> String {
    "{" + values.map { String($0) }.joined(separator: ",") + "}"
  }

  /// `{0.25,NULL}`: doubles as Swift prints them (round-trip exact), NaN and infinities as NULL.
  package static func doubles(_ values: [Double?]) -> String {
    "{"
      + values.map { v in v.flatMap { $0.isFinite ? "\($0)" : nil } ?? "NULL" }
      .joined(separator: ",") + "}"
  }

  /// `{"a","b\"c",NULL}`: every element quoted, `"` and `\` escaped.
  package static func texts(_ values: [String?]) -> String {
    var s = "{"
    for (i, v) in values.enumerated() {
      if i > 0 { s += "," }
      guard let v else {
        s += "NULL"
        continue
      }
      s += "\""
      for ch in v.unicodeScalars {
        if ch == "\"" || ch == "\\" { s += "\\" }
        s.unicodeScalars.append(ch)
      }
      s += "\""
    }
    return s + "}"
  }
}

/// One statement's result rows, read as text. Frees the libpq result at the end.
package final class PGResult {
  let handle: OpaquePointer

  init(_ handle: OpaquePointer) { self.handle = handle }
  deinit { PQclear(handle) }

  package var count: Int { Int(PQntuples(handle)) }
  /// Rows an INSERT/UPDATE/DELETE touched.
  package var affected: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

  package func isNull(_ row: Int, _ col: Int) -> Bool {
    PQgetisnull(handle, Int32(row), Int32(col)) == 1
  }

  package func text(_ row: Int, _ col: Int) -> String {
    String(cString: PQgetvalue(handle, Int32(row), Int32(col)))
  }

  package func optionalText(_ row: Int, _ col: Int) -> String? {
    isNull(row, col) ? nil : text(row, col)
  }

  /// Parsed in place (no String made): the hot path reads thousands of these per second.
  package func int64(_ row: Int, _ col: Int) -> Int64 {
    guard let p = PQgetvalue(handle, Int32(row), Int32(col)) else { return 0 }
    return Int64(strtoll(p, nil, 10))
  }

  package func int(_ row: Int, _ col: Int) -> Int { Int(int64(row, col)) }

  package func optionalInt64(_ row: Int, _ col: Int) -> Int64? {
    isNull(row, col) ? nil : int64(row, col)
  }

  package func optionalDouble(_ row: Int, _ col: Int) -> Double? {
    isNull(row, col) ? nil : Double(text(row, col))
  }

  package func bool(_ row: Int, _ col: Int) -> Bool {
    guard let p = PQgetvalue(handle, Int32(row), Int32(col)) else { return false }
    return p.pointee == UInt8(ascii: "t")
  }

  /// A `bytea` column (hex output format, `\x…`) as bytes.
  package func bytes(_ row: Int, _ col: Int) -> [UInt8]? {
    guard !isNull(row, col) else { return nil }
    let hex = Array(text(row, col).utf8.dropFirst(2))
    func nibble(_ c: UInt8) -> UInt8 {
      switch c {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
      default: c &- UInt8(ascii: "A") &+ 10
      }
    }
    var out: [UInt8] = []
    out.reserveCapacity(hex.count / 2)
    var i = 0
    while i + 1 < hex.count {
      out.append(nibble(hex[i]) << 4 | nibble(hex[i + 1]))
      i += 2
    }
    return out
  }
}

/// One statement of a pipeline: SQL text and its parameters.
package struct PGStatement {
  package var sql: String
  package var params: [String?]
  package init(_ sql: String, _ params: [String?] = []) {
    self.sql = sql
    self.params = params
  }
}

/// One libpq connection, used synchronously from one thread (the supervisor's loop, a CLI
/// command, the off-loop reader), like the store that owns it.
///
/// Why libpq and not postgres-nio: the supervisor is a synchronous epoll loop; a blocking
/// call here costs one round trip and no thread hop, pipeline mode sends a whole group commit
/// in one, and the connection's socket can sit in the loop's epoll set so a NOTIFY arrives as
/// an ordinary readiness event. postgres-nio would put every call behind an event-loop hop
/// and a wait, and costs minutes of clean build (MEASURED.md).
///
/// A lost connection turns every call into `.unavailable` until `reconnect` succeeds; the
/// caller decides when to try (with backoff).
package final class PGConnection {
  private(set) var handle: OpaquePointer?
  /// The URL or conninfo given at open, with the driver's defaults added.
  let conninfo: String
  /// What error messages call the store: the URL without its password.
  let label: String
  /// The server process serving this connection (notifications it sent itself carry it).
  private(set) var backendPID: Int32 = 0
  /// Counts successful connections (a new one may reuse the old socket's number).
  private(set) var generation = 0
  /// A reconnection under way without blocking (`reconnectStep`), nil when none is.
  var opening: PGOpening?

  /// Connects to `url` (a `postgres://` URL or a libpq conninfo string).
  ///
  /// The driver's defaults come first and the URL's own settings win: a 5 s connect timeout;
  /// TCP keepalives and a 10 s `tcp_user_timeout`, so a cut network link fails a call within
  /// seconds instead of blocking the loop until the kernel gives up (minutes); UTF-8 text.
  package init(url: String, applicationName: String = "drover")
    throws(StoreError)
  {
    label = Self.redacted(url)
    let extra: [(String, String)] = [
      ("connect_timeout", "5"), ("keepalives", "1"), ("keepalives_idle", "5"),
      ("keepalives_interval", "2"), ("keepalives_count", "3"), ("tcp_user_timeout", "10000"),
      ("client_encoding", "UTF8"), ("application_name", applicationName),
    ]
    conninfo = Self.merge(url: url, extra: extra)
    try connect()
  }

  deinit {
    if let handle { PQfinish(handle) }
    if let opening { PQfinish(opening.conn) }
  }

  /// Adds `extra` settings to `url` unless it sets them itself: as URL query parameters for a
  /// URL, as `key=value` pairs for a conninfo string.
  static func merge(url: String, extra: [(String, String)]) -> String {
    let isURL = url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    var out = url
    for (key, value) in extra where !url.contains(key + "=") {
      if isURL {
        out += (out.contains("?") ? "&" : "?") + key + "=" + percentEncoded(value)
      } else {
        out += " " + key + "='" + value.replacingAll("'", with: "\\'") + "'"
      }
    }
    return out
  }

  private static func percentEncoded(_ s: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for b in s.utf8 {
      switch b {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
        UInt8(ascii: "."):
        out.append(b)
      default: out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// `postgres://user:secret@host/db` → `postgres://user@host/db`: URLs end up in logs.
  static func redacted(_ url: String) -> String {
    guard let scheme = url.firstRange(of: "://"), let at = url.firstRange(of: "@") else {
      return url
    }
    let userinfo = url[scheme.upperBound..<at.lowerBound]
    guard let colon = userinfo.firstIndex(of: ":") else { return url }
    return String(url[..<colon]) + String(url[at.lowerBound...])
  }

  /// (Re)connects; throws `.unavailable` with libpq's message when the server cannot be
  /// reached or refuses.
  package func connect() throws(StoreError) {
    disconnect()
    guard let conn = PQconnectdb(conninfo) else {
      throw .unavailable("cannot connect to \(label): out of memory")
    }
    guard PQstatus(conn) == CONNECTION_OK else {
      let why = Self.message(PQerrorMessage(conn))
      PQfinish(conn)
      throw .unavailable("cannot connect to \(label): \(why)")
    }
    adopt(conn)
  }

  /// Makes `conn` (connected) this object's connection.
  func adopt(_ conn: OpaquePointer) {
    handle = conn
    backendPID = PQbackendPID(conn)
    generation += 1
  }

  /// Drops the connection, and a reconnection under way (the next `connect` opens a new one).
  package func disconnect() {
    if let handle { PQfinish(handle) }
    handle = nil
    if let opening { PQfinish(opening.conn) }
    opening = nil
  }

  /// Now on CLOCK_MONOTONIC, for reconnect backoff.
  static func monotonicNow() -> MonotonicInstant {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return MonotonicInstant(nanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec))
  }

  /// True while the connection is up (as far as libpq knows: a dead peer shows at the next
  /// call).
  package var isConnected: Bool { handle.map { PQstatus($0) == CONNECTION_OK } ?? false }

  /// The connection's socket, for the caller's epoll set (-1 when not connected).
  package var socket: Int32 { handle.map { PQsocket($0) } ?? -1 }

  static func message(_ p: UnsafePointer<CChar>?) -> String {
    guard let p else { return "unknown error" }
    var s = String(cString: p)
    while s.last == "\n" || s.last == " " { s.removeLast() }
    return s.replacingAll("\n", with: "; ")
  }

  private func live() throws(StoreError) -> OpaquePointer {
    guard let handle, PQstatus(handle) == CONNECTION_OK else {
      throw .unavailable("the connection to \(label) is lost")
    }
    return handle
  }

  /// Runs one statement with parameters and returns its rows.
  @discardableResult
  package func exec(_ sql: String, _ params: any PGValue...) throws(StoreError) -> PGResult {
    try exec(PGStatement(sql, params.map(\.pgText)))
  }

  /// Runs one statement and returns its rows.
  @discardableResult
  package func exec(_ s: PGStatement) throws(StoreError) -> PGResult {
    let conn = try live()
    let result = Self.withCStrings(s.params) { values in
      PQexecParams(conn, s.sql, Int32(values.count), nil, values, nil, nil, 0)
    }
    return try check(result, conn: conn)
  }

  /// Runs a script of several statements without parameters (simple query protocol): schema
  /// migrations.
  package func script(_ sql: String) throws(StoreError) {
    let conn = try live()
    _ = try check(PQexec(conn, sql), conn: conn)
    // A multi-statement script returns only its last result; earlier errors stop it there.
  }

  /// Runs several statements in one round trip (libpq pipeline mode) and returns each one's
  /// rows. The first failure throws after the pipeline is read to its end (the server skipped
  /// the statements after it); an open transaction is then rolled back.
  package func pipeline(_ statements: [PGStatement]) throws(StoreError) -> [PGResult] {
    if statements.count == 1 { return [try exec(statements[0])] }
    let conn = try live()
    guard PQenterPipelineMode(conn) == 1 else { throw connectionError(conn, "pipeline mode") }
    for s in statements {
      let sent = Self.withCStrings(s.params) { values in
        PQsendQueryParams(conn, s.sql, Int32(values.count), nil, values, nil, nil, 0)
      }
      guard sent == 1 else {
        let error = connectionError(conn, "sending a statement")
        abandonPipeline(conn)
        throw error
      }
    }
    guard PQpipelineSync(conn) == 1 else {
      let error = connectionError(conn, "pipeline sync")
      abandonPipeline(conn)
      throw error
    }
    var results: [PGResult] = []
    results.reserveCapacity(statements.count)
    var firstError: StoreError?
    for _ in statements {
      guard let r = PQgetResult(conn) else {
        firstError = firstError ?? connectionError(conn, "reading a result")
        break
      }
      // Each statement's result is followed by a NULL that ends it.
      while let extra = PQgetResult(conn) { PQclear(extra) }
      switch PQresultStatus(r) {
      case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
        results.append(PGResult(r))
      case PGRES_PIPELINE_ABORTED:
        PQclear(r)
      default:
        let error = Self.error(r, conn: conn, label: label)
        PQclear(r)
        firstError = firstError ?? error
      }
    }
    if firstError == nil || PQstatus(conn) == CONNECTION_OK {
      // The sync's own result, then out of pipeline mode.
      while let r = PQgetResult(conn) {
        let status = PQresultStatus(r)
        PQclear(r)
        if status == PGRES_PIPELINE_SYNC { break }
      }
    }
    PQexitPipelineMode(conn)
    if let firstError {
      rollbackIfOpen()
      throw firstError
    }
    return results
  }

  /// After a failed send: whatever was queued is read away so the connection can leave
  /// pipeline mode (or is found dead).
  private func abandonPipeline(_ conn: OpaquePointer) {
    _ = PQpipelineSync(conn)
    var idle = 0
    while PQstatus(conn) == CONNECTION_OK, idle < 2 {
      guard let r = PQgetResult(conn) else {
        idle += 1
        continue
      }
      idle = 0
      let status = PQresultStatus(r)
      PQclear(r)
      if status == PGRES_PIPELINE_SYNC { break }
    }
    PQexitPipelineMode(conn)
    rollbackIfOpen()
  }

  /// Rolls back a transaction left open (or failed) by an error, so the next call starts
  /// clean.
  package func rollbackIfOpen() {
    guard let handle, PQstatus(handle) == CONNECTION_OK else { return }
    let status = PQtransactionStatus(handle)
    if status == PQTRANS_INTRANS || status == PQTRANS_INERROR {
      if let r = PQexec(handle, "ROLLBACK") { PQclear(r) }
    }
  }

  private func check(_ result: OpaquePointer?, conn: OpaquePointer) throws(StoreError)
    -> PGResult
  {
    guard let result else { throw connectionError(conn, "running a statement") }
    switch PQresultStatus(result) {
    case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
      return PGResult(result)
    default:
      let error = Self.error(result, conn: conn, label: label)
      PQclear(result)
      throw error
    }
  }

  private func connectionError(_ conn: OpaquePointer, _ doing: String) -> StoreError {
    .unavailable("\(label): \(doing) failed: \(Self.message(PQerrorMessage(conn)))")
  }

  /// PostgreSQL's SQLSTATE classes mapped to the driver-neutral errors.
  static func error(_ r: OpaquePointer, conn: OpaquePointer, label: String) -> StoreError {
    let state = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
    let text = message(PQresultErrorMessage(r))
    let detail = "\(text) [\(state)]"
    if PQstatus(conn) != CONNECTION_OK { return .unavailable("\(label): \(detail)") }
    switch state {
    case "23505", "23P01": return .conflict(detail)
    case "25006": return .readOnly(detail)
    case "40001", "40P01", "55P03", "57014", "53300": return .busy(detail)
    case "XX001", "XX002": return .corrupt(detail)
    case "22021", "22P02", "22P05", "22003", "54000", "54001": return .invalidInput(detail)
    default:
      if state.hasPrefix("53") { return .full(detail) }
      return .unavailable("\(label): \(detail)")
    }
  }

  /// Notifications that arrived on this connection, read without blocking: (channel, payload,
  /// sender's backend pid). Throws `.unavailable` when the connection turned out dead.
  package func notifications() throws(StoreError) -> [(String, String, Int32)] {
    let conn = try live()
    guard PQconsumeInput(conn) == 1 else { throw connectionError(conn, "reading notifications") }
    var out: [(String, String, Int32)] = []
    while let n = PQnotifies(conn) {
      out.append(
        (String(cString: n.pointee.relname), String(cString: n.pointee.extra), n.pointee.be_pid))
      PQfreemem(n)
    }
    return out
  }

  /// Calls `body` with NUL-terminated copies of `params` (nil stays a NULL pointer).
  static func withCStrings<R>(
    _ params: [String?], _ body: ([UnsafePointer<CChar>?]) -> R
  ) -> R {
    var copies: [UnsafeMutablePointer<CChar>?] = []
    copies.reserveCapacity(params.count)
    for p in params { copies.append(p.map { strdup($0) }) }
    defer { for c in copies { free(c) } }
    return body(copies.map { $0.map { UnsafePointer($0) } })
  }
}

extension String {
  /// Every occurrence of `target` replaced (Foundation-free).
  func replacingAll(_ target: String, with replacement: String) -> String {
    guard !target.isEmpty, contains(target) else { return self }
    var out = ""
    var rest = self[...]
    while let r = rest.firstRange(of: target) {
      out += rest[..<r.lowerBound]
      out += replacement
      rest = rest[r.upperBound...]
    }
    return out + rest
  }
}
