/// A job type with a typed payload: what both sides of a queue agree on.
///
/// The enqueuing side (`DroverClient`) needs only this; the worker side refines it into
/// `JobDefinition`, which adds the code that runs the job. Keeping the two apart lets an
/// application's web process enqueue `SendEmail` without linking the worker runtime.
///
/// The payload travels as a JSON object (the store only holds objects), so `Payload` must
/// encode as a keyed container (a struct or a dictionary, not a bare number or array).
public protocol JobKind: Sendable {
  /// The payload a job of this kind carries, encoded as JSON.
  associatedtype Payload: Codable & Sendable
  /// The job type the store records and pools list in `types` (for example `"email.send"`).
  static var type: String { get }
}
