/// A pool's limits on how many of its jobs run (`concurrency_limit`) and how often they start
/// (`rate`), per key: the value of a payload field (`key = "account_id"`), or the key a job was
/// enqueued with (`--key`), which wins. Without `key` (and without `--key`) every job of the
/// pool shares one key, the empty string: a pool-wide limit (across every supervisor of the
/// store). A job whose payload lacks the field has the empty key too.
///
/// A job a limit holds stays `queued` in the store (never claimed and put back, no attempt
/// spent) and is released when a slot frees (a job of its key leaves `running`) or its key's
/// bucket refills.
public struct PoolLimits: Sendable, Hashable {
  /// The pool the limits belong to: the scope of their keys.
  public var pool: String
  /// The pool's job types.
  public var types: [String]
  /// The payload field a job's key is read from (nil: none; `--key` or the empty key).
  public var keyField: String?
  /// At most this many running jobs per key.
  public var concurrency: Int?
  /// A token bucket per key.
  public var rate: RateLimit?

  public init(
    pool: String, types: [String], keyField: String? = nil, concurrency: Int? = nil,
    rate: RateLimit? = nil
  ) {
    self.pool = pool
    self.types = types
    self.keyField = keyField
    self.concurrency = concurrency
    self.rate = rate
  }

  /// A job's key: the key it was enqueued with, else the payload field's value (a string as
  /// it is, a number or a boolean as its JSON text), else the empty key.
  public func key(explicit: String?, payload: String) -> String {
    if let explicit { return explicit }
    guard let field = keyField, let value = try? JSONValue.parse(payload), let v = value[field]
    else { return "" }
    switch v {
    case .string(let s): return s
    case .int(let n): return String(n)
    case .number(let text): return text
    case .double(let d): return String(d)
    case .bool(let b): return b ? "true" : "false"
    default: return ""
    }
  }

  /// The config's words for the limits, for `drover why` and logs:
  /// `concurrency_limit 5` and/or `rate 100/1m`.
  public var summary: String {
    var parts: [String] = []
    if let c = concurrency { parts.append("concurrency_limit \(c)") }
    if let r = rate { parts.append("rate \(r)") }
    return parts.joined(separator: " and ")
  }
}

/// A token bucket: `limit` tokens per `per`, holding at most `burst`; a job takes one token
/// when it is claimed.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
  public var limit: Int
  public var per: Duration
  public var burst: Int
  public init(limit: Int, per: Duration, burst: Int = 1) {
    self.limit = limit
    self.per = per
    self.burst = burst
  }

  /// Microseconds for one token to come back.
  public var microsPerToken: Double {
    let c = per.components
    let micros = Double(c.seconds) * 1e6 + Double(c.attoseconds) / 1e12
    return micros / Double(limit)
  }

  public var description: String { "\(limit)/\(DurationText.format(per))" }
}

/// One key's limit state, as the store keeps it (`limit_keys`) plus its running count.
public struct LimitKeyState: Sendable, Hashable {
  /// Running jobs of the key in the pool.
  public var running: Int
  /// Tokens in the bucket at `tokensAt` (a full bucket when the key is new).
  public var tokens: Double
  public var tokensAt: Timestamp
  /// Nothing of the key starts before this (a handler said it was rate limited).
  public var blockedUntil: Timestamp?
  /// Jobs of the key held in the store now.
  public var held: Int

  public init(
    running: Int = 0, tokens: Double, tokensAt: Timestamp, blockedUntil: Timestamp? = nil,
    held: Int = 0
  ) {
    self.running = running
    self.tokens = tokens
    self.tokensAt = tokensAt
    self.blockedUntil = blockedUntil
    self.held = held
  }
}

/// The pure decision of the limits: whether a job of a key may start now, what starting it
/// costs, and when a held key may start one again. Both store drivers use it, so they agree.
public enum LimitGate {
  /// What a key may do at `now`.
  public enum Verdict: Sendable, Hashable {
    /// A job may start.
    case open
    /// Full: `running` jobs of the key run (`concurrency_limit`); a finish frees a slot.
    case full(running: Int, limit: Int)
    /// The bucket is empty: its next token is due at `at`.
    case empty(next: Timestamp)
    /// A handler said the key is rate limited until `until`.
    case blocked(until: Timestamp)

    /// When the key may start a job without any finish (a refill or the end of a block), or
    /// nil when only a finish can free it.
    public var readyAt: Timestamp? {
      switch self {
      case .open: nil
      case .full: nil
      case .empty(let at): at
      case .blocked(let until): until
      }
    }
  }

  /// The bucket brought up to `now` (full for a key seen the first time: `tokens` is set so).
  public static func refilled(_ s: LimitKeyState, _ limits: PoolLimits, now: Timestamp)
    -> LimitKeyState
  {
    guard let rate = limits.rate else { return s }
    var s = s
    let elapsed = Double(max(0, now.micros - s.tokensAt.micros))
    s.tokens = min(Double(rate.burst), s.tokens + elapsed / rate.microsPerToken)
    s.tokensAt = now
    return s
  }

  /// The verdict for a key whose state is already `refilled` to `now`.
  public static func verdict(_ s: LimitKeyState, _ limits: PoolLimits, now: Timestamp) -> Verdict {
    if let until = s.blockedUntil, until > now { return .blocked(until: until) }
    if let c = limits.concurrency, s.running >= c { return .full(running: s.running, limit: c) }
    if let rate = limits.rate, s.tokens < 1 {
      let wait = ((1 - s.tokens) * rate.microsPerToken).rounded(.up)
      return .empty(next: Timestamp(micros: now.micros + Int64(wait)))
    }
    return .open
  }

  /// The state after one job of the key starts (a token spent, a slot taken).
  public static func started(_ s: LimitKeyState, _ limits: PoolLimits) -> LimitKeyState {
    var s = s
    s.running += 1
    if limits.rate != nil { s.tokens -= 1 }
    return s
  }

  /// How many held jobs of the key may be released now: the free slots (and whole tokens),
  /// or `held` when neither limit bounds it. Zero while blocked.
  public static func releasable(_ s: LimitKeyState, _ limits: PoolLimits, now: Timestamp) -> Int {
    if let until = s.blockedUntil, until > now { return 0 }
    var n = s.held
    if let c = limits.concurrency { n = min(n, c - s.running) }
    if limits.rate != nil { n = min(n, Int(s.tokens.rounded(.down))) }
    return max(0, n)
  }
}
