/// The whole validated configuration, as loaded from TOML (see CONTRACT.md).
///
/// Every path is absolute: relative paths in the file resolve against the file's folder.
public struct DroverConfig: Sendable, Equatable {
  public var store: StoreConfig
  public var control: ControlConfig
  public var http: HTTPConfig?
  public var supervisor: SupervisorConfig
  /// Pools in file order.
  public var pools: [PoolConfig]
  /// `[log]`.
  public var log = LogConfig()
  /// `[schedules.NAME]`, in file order.
  public var schedules: [ScheduleConfig] = []
  /// `[alerts]`, when set.
  public var alerts: AlertsConfig?
  /// `[tracing]`, when set.
  public var tracing: TracingConfig?
  /// The file this came from (absolute), or nil when built in code.
  public var sourcePath: String?

  public init(
    store: StoreConfig, control: ControlConfig, http: HTTPConfig? = nil,
    supervisor: SupervisorConfig = .init(), pools: [PoolConfig], sourcePath: String? = nil
  ) {
    self.store = store
    self.control = control
    self.http = http
    self.supervisor = supervisor
    self.pools = pools
    self.sourcePath = sourcePath
  }

  /// The pool that runs `type`, if any.
  public func pool(forType type: String) -> PoolConfig? {
    pools.first { $0.types.contains(type) }
  }
}

/// `[store]`.
public struct StoreConfig: Sendable, Equatable {
  /// How hard SQLite syncs: `normal` survives process crashes, `full` power loss too.
  public enum Synchronous: String, Sendable, Equatable { case normal, full }
  /// SQLite file (absolute). Default `var/drover.db` beside the config.
  public var path: String
  public var synchronous: Synchronous
  /// Completed and cancelled jobs older than this are pruned. Default 7d.
  public var retainCompleted: Duration
  /// Dead jobs older than this are pruned. Default 30d.
  public var retainDead: Duration
  /// A PostgreSQL URL instead of SQLite (multi-host), when set.
  public var url: String?
  /// The largest payload (bytes of its JSON text) an enqueue accepts on any path
  /// (`max_payload`). Default 1 MiB; see `ConfigLimits.maxPayload` for the range.
  public var maxPayload: Int
  /// Whether `path` may be a symbolic link (`allow_symlink`, default false: a link is refused,
  /// so nobody can point a root supervisor's store at another file).
  public var allowSymlink: Bool
  /// The mode of the files the store creates (`file_mode`): 0o600 (default: only the
  /// supervisor's user reads payloads) or 0o640 (its group too: the control socket's group,
  /// whose members may then run read-only commands such as `jobs list`). Applied at start-up
  /// to the store's existing files as well, whatever the umask.
  public var fileMode: UInt32 = 0o600
  /// How often a supervisor renews its lease on its running jobs (`heartbeat`, default 5 s).
  public var heartbeat: Duration = .seconds(5)
  /// How long a supervisor's lease lasts after its last heartbeat (`lease`, default 15 s):
  /// a peer rescues its running jobs only after that. Longer than `heartbeat`.
  public var lease: Duration = .seconds(15)
  /// The largest job result (bytes of its JSON text) kept (`max_result`, default 64 KiB): a
  /// completed attempt with a larger one fails permanently, saying so.
  public var maxResult: Int = ConfigLimits.defaultMaxResult
  /// Per-minute stats (`jobs stats --window`) older than this are pruned (`retain_stats`).
  /// Default 30d.
  public var retainStats: Duration = .seconds(30 * 86400)

  public init(
    path: String, synchronous: Synchronous = .normal,
    retainCompleted: Duration = .seconds(7 * 86400),
    retainDead: Duration = .seconds(30 * 86400), url: String? = nil,
    maxPayload: Int = ConfigLimits.defaultMaxPayload, allowSymlink: Bool = false
  ) {
    self.maxPayload = maxPayload
    self.path = path
    self.synchronous = synchronous
    self.retainCompleted = retainCompleted
    self.retainDead = retainDead
    self.url = url
    self.allowSymlink = allowSymlink
  }
}

/// `[control]`.
public struct ControlConfig: Sendable, Equatable {
  /// The control socket's path (absolute). Default `var/control.sock` beside the config.
  public var socket: String
  public init(socket: String) { self.socket = socket }
}

/// `[http]`.
public struct HTTPConfig: Sendable, Equatable {
  /// `host:port`.
  public var listen: String
  /// The bearer token that may read and act.
  public var token: String?
  /// A file holding the bearer token (absolute; read when `serve` starts, first line, surrounding
  /// whitespace trimmed), instead of `token`: keeps the secret out of the config file.
  public var tokenFile: String?
  /// A bearer token that may read (GET) but not act: 403 on every other route.
  public var readToken: String?
  public init(
    listen: String, token: String? = nil, tokenFile: String? = nil, readToken: String? = nil
  ) {
    self.listen = listen
    self.token = token
    self.tokenFile = tokenFile
    self.readToken = readToken
  }
}

/// `[supervisor]`.
public struct SupervisorConfig: Sendable, Equatable {
  /// How long SIGTERM / drain waits for running jobs. Default 30s.
  public var drainTimeout: Duration
  public init(drainTimeout: Duration = .seconds(30)) { self.drainTimeout = drainTimeout }
}

/// `[pools.NAME]`: one group of worker processes.
public struct PoolConfig: Sendable, Equatable {
  public var name: String
  /// Job types this pool runs. Default `[name]`.
  public var types: [String]
  /// `noop`, `sleep`, `fail`, `crash`, `exec`, or a registered Swift handler's name.
  public var handler: String
  /// For `exec`: the command and its arguments (absolute or PATH-searched program).
  public var command: [String]
  /// Workers kept even when idle. Default 1.
  public var min: Int
  /// Autoscaling ceiling. Default max(min, 4)… see loader; always ≥ min.
  public var max: Int
  /// A worker above `min` idle this long is retired. Default 30s.
  public var idleTimeout: Duration
  /// Jobs at once per worker. Default 1.
  public var concurrency: Int
  /// Per attempt. Default 5m.
  public var timeout: Duration
  /// Default attempt budget for this pool's jobs. Default 20.
  public var maxAttempts: Int
  /// Retry backoff. Default 1s / 1h.
  public var backoff: BackoffPolicy
  /// Recycle a worker after this many jobs; 0 = never.
  public var maxJobs: Int
  /// Recycle a worker above this resident size in bytes; 0 = never.
  public var maxRSS: UInt64
  /// A job snoozed this many times is ended `dead` at its next snooze (snoozes spend no
  /// attempt, so without a bound a job that always snoozes would loop forever). Default 100;
  /// 0 forbids snoozing.
  public var maxSnoozes: Int = 100
  /// `concurrency_limit` and `rate`, when either is set (see `PoolLimits`).
  public var limits: PoolLimits?

  public init(
    name: String, types: [String]? = nil, handler: String = "noop", command: [String] = [],
    min: Int = 1, max: Int = 4, idleTimeout: Duration = .seconds(30), concurrency: Int = 1,
    timeout: Duration = .seconds(300), maxAttempts: Int = 20, backoff: BackoffPolicy = .standard,
    maxJobs: Int = 0, maxRSS: UInt64 = 0
  ) {
    self.name = name
    self.types = types ?? [name]
    self.handler = handler
    self.command = command
    self.min = min
    self.max = max
    self.idleTimeout = idleTimeout
    self.concurrency = concurrency
    self.timeout = timeout
    self.maxAttempts = maxAttempts
    self.backoff = backoff
    self.maxJobs = maxJobs
    self.maxRSS = maxRSS
  }
}

/// A config problem, naming the key and (when from a file) the line.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file, when known.
  public var file: String?
  /// 1-based line, when known.
  public var line: Int?
  /// The dotted key, e.g. `pools.email.max`, when the problem has one.
  public var key: String?
  /// What is wrong, e.g. `min (5) is greater than max (2)`.
  public var message: String
  /// The problems found after this one (the loader checks every section and every pool, so
  /// `config check` can list them all). Not part of `description`, which stays one line.
  public var others: [ConfigError] = []

  public init(file: String? = nil, line: Int? = nil, key: String? = nil, message: String) {
    self.file = file
    self.line = line
    self.key = key
    self.message = message
  }

  /// This problem and every other one found, in file order.
  public var all: [ConfigError] {
    var first = self
    first.others = []
    return ([first] + others).sorted { ($0.line ?? 0) < ($1.line ?? 0) }
  }

  /// One line: `drover.toml:12: pools.email.max: min (5) is greater than max (2)`.
  public var description: String {
    var s = ""
    if let file { s += file }
    if let line { s += (s.isEmpty ? "line " : ":") + String(line) }
    if let key { s += (s.isEmpty ? "" : ": ") + key }
    return s.isEmpty ? message : s + ": " + message
  }
}

/// `[log]`: how the supervisor writes its log lines (to stderr, which is the journal under
/// systemd).
public struct LogConfig: Sendable, Equatable {
  public enum Format: String, Sendable, Equatable, CaseIterable {
    /// `time=… level=… msg="…" key=value …`
    case logfmt
    /// One JSON object per line.
    case json
  }
  public var format: Format
  public init(format: Format = .logfmt) { self.format = format }
}
