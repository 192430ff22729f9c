import DroverCore
public import DroverWorker

/// Resizes an image in steps, reporting progress; a cancel (or timeout) stops it between
/// steps as Swift task cancellation.
public struct ResizeImage: JobDefinition {
  public static let type = "image.resize"

  public struct Payload: Codable, Sendable, Equatable {
    public var path: String
    public var width: Int
    /// Pause between steps, to make the work take time (milliseconds).
    public var stepMS: Int?
    public init(path: String, width: Int, stepMS: Int? = nil) {
      self.path = path
      self.width = width
      self.stepMS = stepMS
    }
  }

  public init() {}

  public func run(_ payload: Payload, context: JobContext) async throws {
    guard payload.width > 0 else { throw JobError.permanent("width must be positive") }
    for step in 1...4 {
      // Throws CancellationError once the supervisor cancels: the job ends `cancelled`.
      try await Task.sleep(for: .milliseconds(payload.stepMS ?? 10))
      context.progress(step * 25)
    }
    context.logger.info("resized \(payload.path) to \(payload.width)px")
  }
}
