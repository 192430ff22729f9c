import Crypto
import DroverCore
public import Logging

/// Delivers alert bodies to webhooks: a JSON POST to each URL, signed with HMAC-SHA256 of the
/// body (hex, `X-Drover-Signature`) when there is a secret, retried with exponential backoff on
/// a connection error or a non-2xx answer.
///
/// Each URL has its own thread and its own bounded queue (an `AlertOutbox`): `send` never
/// waits on the network, and a full queue drops its oldest body (counted and logged).
public final class WebhookSender: Sendable {
  /// How hard the sender tries.
  public typealias Options = AlertOutbox.Options
  /// Counters of one sender, for logs and tests.
  public typealias Counts = AlertOutbox.Counts

  let urls: [String]
  let secret: String?
  let outbox: AlertOutbox
  let poster: HTTPPoster

  /// A sender for `urls` (started by `start`; it must be stopped before it goes away).
  public init(urls: [String], secret: String?, options: Options = .init(), logger: Logger) {
    self.urls = urls
    self.secret = secret
    let poster = HTTPPoster(options: options)
    self.poster = poster
    outbox = AlertOutbox(
      label: "webhook",
      destinations: urls.map { url in
        AlertDestination(name: url) { body in
          let headers = secret.map {
            [("X-Drover-Signature", Self.signature(of: body, secret: $0))]
          }
          return poster.post(body, to: url, headers: headers ?? [])
        }
      }, options: options, logger: logger)
  }

  /// Starts one delivery thread per URL.
  public func start() { outbox.start() }

  /// Queues `body` for every webhook; never blocks on the network.
  public func send(_ body: String) { outbox.send(body) }

  /// The counters so far.
  public var counts: Counts { outbox.counts }

  /// Stops: bodies still queued get until `grace` to go out, then the threads end (a try under
  /// way ends at its timeout). Calling it again is harmless.
  public func stop(grace: Duration = .seconds(2)) {
    outbox.stop(grace: grace)
    poster.shutdown()
  }

  /// The hex HMAC-SHA256 of `body` keyed with `secret`.
  public static func signature(of body: String, secret: String) -> String {
    let mac = HMAC<SHA256>.authenticationCode(
      for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for byte in mac {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// `baseDelay · 2^(attempt-1)`, at most `maxDelay`.
  func backoff(after attempt: Int) -> Duration { outbox.backoff(after: attempt) }
}
