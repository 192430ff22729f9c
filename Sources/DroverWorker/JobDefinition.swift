public import DroverCore
import FoundationEssentials

/// A typed job: its type, its payload and the code that runs it, in one place.
///
/// ```swift
/// struct SendEmail: JobDefinition {
///   static let type = "email.send"
///   struct Payload: Codable, Sendable { var to: String }
///   func run(_ payload: Payload, context: JobContext) async throws { … }
/// }
/// registry.register(SendEmail())
/// ```
///
/// Returning completes the job; throwing settles it as `JobError.outcome(for:cancelled:)` says
/// (a `JobError` as it states, anything else retryable). A payload that does not decode as
/// `Payload` fails the job permanently: retrying the same bytes cannot help.
public protocol JobDefinition: JobKind {
  /// Runs one attempt. The supervisor's cancel cancels the task this runs in.
  func run(_ payload: Payload, context: JobContext) async throws
}

/// Decoding a typed job's payload and running it.
package enum JobDefinitions {
  /// The payload decoded as `J.Payload`, or `JobError.permanent` naming what did not decode.
  package static func decode<J: JobDefinition>(_: J.Type, _ payload: String) throws(JobError)
    -> J.Payload
  {
    do {
      return try JSONDecoder().decode(J.Payload.self, from: Data(payload.utf8))
    } catch {
      throw .permanent("payload does not decode as \(J.type): \(describe(error))")
    }
  }

  package static func run<J: JobDefinition>(_ job: J, _ ctx: JobContext) async throws
    -> JobOutcome
  {
    let payload = try decode(J.self, ctx.payload)
    try await job.run(payload, context: ctx)
    return .completed
  }

  /// A decoding error as one line a person can act on: what was wrong and where (the path of
  /// keys), without Swift's type dump.
  package static func describe(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return String(describing: error) }
    func path(_ c: DecodingError.Context, _ extra: (any CodingKey)? = nil) -> String {
      let keys = c.codingPath + (extra.map { [$0] } ?? [])
      return keys.isEmpty
        ? ""
        : " at "
          + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
    switch e {
    case .keyNotFound(let key, let c):
      return "missing key \"\(key.stringValue)\"" + path(c)
    case .valueNotFound(let type, let c):
      return "null where \(type) was expected" + path(c)
    case .typeMismatch(let type, let c):
      return "expected \(type)" + path(c) + ": " + c.debugDescription
    case .dataCorrupted(let c):
      return c.debugDescription + path(c)
    @unknown default:
      return String(describing: e)
    }
  }
}
