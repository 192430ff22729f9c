#if canImport(Glibc)
  import Glibc
#endif

/// Reads and validates `drover.toml` (CONTRACT.md, "Config").
///
/// Validation is whole and strict: an unknown section or key, a wrong type, a bad duration or
/// size, a nonsensical number, `min > max`, an `exec` pool without a `command`, a job type run
/// by two pools, no pools at all: each is a `ConfigError` naming the dotted key (e.g.
/// `pools.email.max`) and its line. Missing keys take the contract's defaults, and relative
/// paths become absolute, normalized paths under the config file's folder.
public enum ConfigLoader {
  /// The config file to use: `--config PATH` when given, else `$DROVER_CONFIG` when set and
  /// not empty, else `./drover.toml`. The path is returned as written (relative paths are
  /// resolved by `load(path:)`), so error messages show what the user typed.
  public static func resolvePath(explicit: String?, environment: [String: String]) -> String {
    if let explicit { return explicit }
    if let fromEnvironment = environment["DROVER_CONFIG"], !fromEnvironment.isEmpty {
      return fromEnvironment
    }
    return "./drover.toml"
  }

  /// Reads, parses and validates the file at `path` (relative to the working directory when
  /// not absolute). Errors name `path` as given; the result's `sourcePath` is absolute.
  ///
  /// The file must be UTF-8 and at most 4 MiB (a guard against pointing at a device or a
  /// huge file by mistake). An empty `path` is an error, not the working directory.
  /// With `knownHandlers` (the built-ins, `exec` and the application's registered handlers)
  /// the config is also checked against this host: a pool naming another handler, or an
  /// `exec` program that does not exist or is not executable, is an error (such a pool's
  /// workers could never start; it would only crash-loop). Without, only the text is checked.
  public static func load(path: String, knownHandlers: Set<String>? = nil) throws(ConfigError)
    -> DroverConfig
  {
    if path.isEmpty { throw ConfigError(message: "the config path is empty") }
    let absolute = absolutePath(path, relativeTo: currentDirectory())
    let bytes = try readFile(absolute, label: path)
    let text = try decodeUTF8(bytes, file: path)
    var config = try parse(
      text: text, file: path, baseDirectory: parentDirectory(of: absolute),
      knownHandlers: knownHandlers)
    config.sourcePath = absolute
    return config
  }

  /// Parses and validates config `text`. `file` only labels errors; relative paths resolve
  /// against `baseDirectory` (itself made absolute against the working directory when it is
  /// not). The result's `sourcePath` is nil: `load(path:)` sets it.
  public static func parse(
    text: String, file: String?, baseDirectory: String, knownHandlers: Set<String>? = nil
  ) throws(ConfigError) -> DroverConfig {
    let root = try TOMLParser.parse(text, file: file)
    let base = absolutePath(baseDirectory, relativeTo: currentDirectory())
    let doc = Section(file: file, path: [], table: root, line: nil)
    // Every section is checked even after one failed: all problems are reported at once.
    let problems = ConfigProblems()
    let sections = [
      "store", "control", "http", "supervisor", "pools", "schedules", "log", "alerts",
      "tracing",
    ]
    for entry in root.entries where !sections.contains(entry.key) {
      var message = entry.value.table == nil ? "unknown key" : "unknown section"
      if let near = nearest(entry.key, among: sections) {
        message += " (did you mean \(TOMLKey.basicString(near))?)"
      }
      problems.record(doc.error(entry.key, line: entry.line, message))
    }
    let store = problems.value { () throws(ConfigError) in
      try storeConfig(doc.section("store", example: "[store]"), file: file, base: base)
    }
    let control = problems.value { () throws(ConfigError) in
      try controlConfig(doc.section("control", example: "[control]"), file: file, base: base)
    }
    let http = problems.value { () throws(ConfigError) in
      try httpConfig(doc.section("http", example: "[http]"), base: base)
    }
    let supervisor = problems.value { () throws(ConfigError) in
      try supervisorConfig(doc.section("supervisor", example: "[supervisor]"))
    }
    let pools = problems.value { () throws(ConfigError) in
      try poolConfigs(
        doc.section("pools", example: "[pools.NAME]"), file: file, base: base,
        knownHandlers: knownHandlers)
    }
    let schedules = problems.value { () throws(ConfigError) in
      try scheduleConfigs(doc.section("schedules", example: "[schedules.NAME]"))
    }
    let log = problems.value { () throws(ConfigError) in
      try logConfig(doc.section("log", example: "[log]"))
    }
    let alerts = problems.value { () throws(ConfigError) in
      try alertsConfig(doc.section("alerts", example: "[alerts]"), base: base)
    }
    let tracing = problems.value { () throws(ConfigError) in
      try tracingConfig(doc.section("tracing", example: "[tracing]"))
    }
    try problems.throwIfAny()
    guard let store, let control, let http, let supervisor, let pools, let schedules, let log,
      let alerts, let tracing
    else {
      throw ConfigError(file: file, message: "the config could not be read")
    }
    var config = DroverConfig(
      store: store, control: control, http: http, supervisor: supervisor, pools: pools)
    config.schedules = schedules
    config.log = log
    config.alerts = alerts
    config.tracing = tracing
    return config
  }

  // MARK: Sections

  static func logConfig(_ s: Section?) throws(ConfigError) -> LogConfig {
    var log = LogConfig()
    guard let s else { return log }
    try s.rejectUnknownKeys(["format"])
    if let f = try s.string("format") {
      guard let format = LogConfig.Format(rawValue: f.value) else {
        throw s.error(
          "format", line: f.line,
          "must be \"logfmt\" or \"json\", got \(TOMLKey.basicString(f.value))")
      }
      log.format = format
    }
    return log
  }

  static func storeConfig(_ s: Section?, file: String?, base: String) throws(ConfigError)
    -> StoreConfig
  {
    var store = StoreConfig(path: absolutePath("var/drover.db", relativeTo: base))
    guard let s else { return store }
    try s.rejectUnknownKeys([
      "path", "synchronous", "retain_completed", "retain_dead", "url", "max_payload", "max_result",
      "allow_symlink", "file_mode", "heartbeat", "lease", "retain_stats",
    ])
    if let p = try s.nonEmptyString("path") { store.path = absolutePath(p.value, relativeTo: base) }
    if let sync = try s.string("synchronous") {
      guard let mode = StoreConfig.Synchronous(rawValue: sync.value) else {
        throw s.error(
          "synchronous", line: sync.line,
          "must be \"normal\" or \"full\", got \(TOMLKey.basicString(sync.value))")
      }
      store.synchronous = mode
    }
    if let d = try s.duration("retain_completed", in: ConfigLimits.retain) {
      store.retainCompleted = d.value
    }
    if let d = try s.duration("retain_dead", in: ConfigLimits.retain) { store.retainDead = d.value }
    if let d = try s.duration("retain_stats", in: ConfigLimits.retain) {
      store.retainStats = d.value
    }
    if let url = try s.nonEmptyString("url") {
      guard url.value.hasPrefix("postgres://") || url.value.hasPrefix("postgresql://") else {
        throw s.error(
          "url", line: url.line,
          "must be a postgres:// or postgresql:// URL, got \(TOMLKey.basicString(url.value))")
      }
      store.url = url.value
    }
    if let n = try s.size("max_payload", in: ConfigLimits.maxPayload) {
      store.maxPayload = Int(n.value)
    }
    if let n = try s.size("max_result", in: ConfigLimits.maxResult) {
      store.maxResult = Int(n.value)
    }
    if let entry = s.table.entry("allow_symlink") {
      guard let allow = entry.value.boolean else {
        throw s.error(
          "allow_symlink", line: entry.line,
          "must be true or false, got \(describe(entry.value))")
      }
      store.allowSymlink = allow
    }
    if let mode = try s.string("file_mode") {
      switch mode.value {
      case "0600": store.fileMode = 0o600
      case "0640": store.fileMode = 0o640
      default:
        throw s.error(
          "file_mode", line: mode.line,
          "must be \"0600\" (owner only) or \"0640\" (owner and group may read), "
            + "got \"\(mode.value)\"")
      }
    }
    if let d = try s.duration("heartbeat", in: ConfigLimits.lease) { store.heartbeat = d.value }
    if let d = try s.duration("lease", in: ConfigLimits.lease) {
      guard d.value > store.heartbeat else {
        throw s.error(
          "lease", line: d.line,
          "must be longer than heartbeat (\(DurationText.format(store.heartbeat))), got "
            + DurationText.format(d.value))
      }
      store.lease = d.value
    } else if store.heartbeat >= store.lease {
      store.lease = store.heartbeat * 3
    }
    return store
  }

  /// The longest socket path `bind` takes: `sun_path` is 108 bytes with the terminating NUL.
  static let maxSocketPathBytes = 107

  static func controlConfig(_ s: Section?, file: String?, base: String) throws(ConfigError)
    -> ControlConfig
  {
    var control = ControlConfig(socket: absolutePath("var/control.sock", relativeTo: base))
    var line = s?.line
    if let s {
      try s.rejectUnknownKeys(["socket"])
      if let p = try s.nonEmptyString("socket") {
        control.socket = absolutePath(p.value, relativeTo: base)
        line = p.line
      }
    }
    let length = control.socket.utf8.count
    if length > maxSocketPathBytes {
      throw ConfigError(
        file: file, line: line, key: "control.socket",
        message: "\(control.socket) is \(length) bytes; a Unix socket path can have at most "
          + "\(maxSocketPathBytes)")
    }
    return control
  }

  static func httpConfig(_ s: Section?, base: String) throws(ConfigError) -> HTTPConfig? {
    guard let s else { return nil }
    try s.rejectUnknownKeys(["listen", "token", "token_file", "read_token"])
    guard let listen = try s.nonEmptyString("listen") else {
      throw s.error("listen", line: s.line, "missing (e.g. listen = \"127.0.0.1:8080\")")
    }
    guard let (host, _) = splitHostPort(listen.value) else {
      throw s.error(
        "listen", line: listen.line,
        "must be \"host:port\" (IPv6 in brackets: \"[::1]:8080\"), got "
          + TOMLKey.basicString(listen.value))
    }
    let token = try s.nonEmptyString("token")
    let tokenFile = try s.nonEmptyString("token_file")
    if let token, tokenFile != nil {
      throw s.error("token_file", line: token.line, "give token or token_file, not both")
    }
    let readToken = try s.nonEmptyString("read_token")
    if token == nil, tokenFile == nil, !isLoopback(host) {
      throw s.error(
        "token", line: listen.line,
        "required when listen (\(TOMLKey.basicString(listen.value))) is not loopback")
    }
    if let readToken, readToken.value == token?.value {
      throw s.error("read_token", line: readToken.line, "must differ from token")
    }
    return HTTPConfig(
      listen: listen.value, token: token?.value,
      tokenFile: tokenFile.map { absolutePath($0.value, relativeTo: base) },
      readToken: readToken?.value)
  }

  static func supervisorConfig(_ s: Section?) throws(ConfigError) -> SupervisorConfig {
    var supervisor = SupervisorConfig()
    guard let s else { return supervisor }
    try s.rejectUnknownKeys(["drain_timeout"])
    if let d = try s.duration("drain_timeout", in: ConfigLimits.drainTimeout) {
      supervisor.drainTimeout = d.value
    }
    return supervisor
  }

  // MARK: Listen addresses

  /// `host:port` or `[v6]:port` into its host (brackets removed) and port (0–65535); nil when
  /// malformed, the host is empty, or an IPv6 address lacks its brackets.
  static func splitHostPort(_ text: String) -> (host: String, port: Int)? {
    let host: Substring
    let port: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]") else { return nil }
      let afterClose = text.index(after: close)
      guard afterClose < text.endIndex, text[afterClose] == ":" else { return nil }
      host = text[text.index(after: text.startIndex)..<close]
      port = text[text.index(after: afterClose)...]
      guard host.contains(":") else { return nil }
    } else {
      guard let colon = text.lastIndex(of: ":") else { return nil }
      host = text[..<colon]
      port = text[text.index(after: colon)...]
      guard !host.contains(":") else { return nil }
    }
    guard !host.isEmpty, !host.contains(" "), (1...5).contains(port.count),
      port.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(port), n <= 65535
    else { return nil }
    return (String(host), n)
  }

  /// True for `localhost`, 127.0.0.0/8 and `::1`: addresses other machines cannot reach, so an
  /// HTTP API on them may go without a token. Anything unrecognized counts as reachable.
  static func isLoopback(_ host: String) -> Bool {
    let h = host.lowercased()
    if h == "localhost" || h == "::1" || h == "0:0:0:0:0:0:0:1" { return true }
    let octets = h.split(separator: ".", omittingEmptySubsequences: false)
    guard octets.count == 4 else { return false }
    for octet in octets {
      guard (1...3).contains(octet.count), octet.allSatisfy({ $0.isASCII && $0.isNumber }),
        let v = Int(octet), v <= 255
      else { return false }
    }
    return octets[0] == "127"
  }

  // MARK: Files and paths

  /// `path` made absolute against `base` and normalized: no `.`, `..` or repeated `/`.
  /// `..` at the root stays at the root, as the kernel treats it.
  static func absolutePath(_ path: String, relativeTo base: String) -> String {
    let joined = path.hasPrefix("/") ? path : base + "/" + path
    var parts: [Substring] = []
    for part in joined.split(separator: "/") {
      switch part {
      case ".": continue
      case "..": _ = parts.popLast()
      default: parts.append(part)
      }
    }
    return "/" + parts.joined(separator: "/")
  }

  /// The folder holding `path` (absolute, normalized).
  static func parentDirectory(of path: String) -> String {
    absolutePath(path + "/..", relativeTo: "/")
  }

  /// The process's working directory, or `/` if it cannot be had (it was deleted, say).
  static func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "/" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  static let maxFileBytes = 4 << 20

  /// The whole file, through plain `open`/`read` (no Foundation in the core).
  static func readFile(_ path: String, label: String) throws(ConfigError) -> [UInt8] {
    func failure(_ what: String) -> ConfigError {
      ConfigError(file: label, message: "cannot read the config: \(what)")
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      // A missing file is most often a missing `--config`: say where the path came from.
      throw failure(
        errno == ENOENT
          ? errnoText() + " (name the config with --config PATH or $DROVER_CONFIG; "
            + "the default is ./drover.toml)"
          : errnoText())
    }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw failure(errnoText())
      }
      if n == 0 { return bytes }
      bytes.append(contentsOf: chunk[0..<n])
      if bytes.count > maxFileBytes { throw failure("larger than 4 MiB") }
    }
  }

  /// `bytes` as text, or an error naming the line of the first byte that is not UTF-8.
  static func decodeUTF8(_ bytes: [UInt8], file: String?) throws(ConfigError) -> String {
    var iterator = bytes.makeIterator()
    var decoder = UTF8()
    var line = 1
    while true {
      switch decoder.decode(&iterator) {
      case .scalarValue(let scalar):
        if scalar == "\n" { line += 1 }
      case .emptyInput:
        return String(decoding: bytes, as: UTF8.self)
      case .error:
        throw ConfigError(file: file, line: line, message: "not valid UTF-8")
      }
    }
  }

  private static func errnoText() -> String {
    // glibc's strerror is thread-safe for known error numbers (it returns static strings).
    String(cString: strerror(errno))
  }
}
