import DroverCore
public import DroverWorker

/// Sends a welcome email. A bad address is permanent; the mail service's "slow down" is a
/// rate limit (the job comes back later without spending an attempt).
public struct SendEmail: JobDefinition {
  public static let type = "email.send"

  public struct Payload: Codable, Sendable, Equatable {
    public var to: String
    public var subject: String
    public init(to: String, subject: String) {
      self.to = to
      self.subject = subject
    }
  }

  let mailer: any Mailer

  public init(mailer: any Mailer) { self.mailer = mailer }

  public func run(_ payload: Payload, context: JobContext) async throws {
    guard payload.to.contains("@") else {
      throw JobError.permanent("not an email address: \(payload.to)")
    }
    if context.snoozes > 0 { context.logger.info("sending after \(context.snoozes) snoozes") }
    switch try await mailer.send(to: payload.to, subject: payload.subject) {
    case .sent: context.progress(100)
    case .throttled(let wait): throw JobError.rateLimited(retryAfter: wait)
    }
  }
}

/// The mail service, behind a protocol so a test can stand in for it.
public protocol Mailer: Sendable {
  func send(to: String, subject: String) async throws -> MailResult
}

/// What the mail service said.
public enum MailResult: Sendable {
  case sent
  case throttled(Duration)
}

/// The mailer the app uses: logs instead of sending (this is an example).
public struct LogMailer: Mailer {
  public init() {}
  public func send(to: String, subject: String) async throws -> MailResult { .sent }
}
