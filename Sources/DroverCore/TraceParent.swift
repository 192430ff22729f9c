/// A W3C Trace Context `traceparent` (version 00): `00-<32 hex trace id>-<16 hex parent span
/// id>-<2 hex flags>`, lower-case, neither id all zeros.
public struct TraceParent: Sendable, Hashable {
  public var traceID: String
  public var parentID: String
  public var flags: String

  /// What a bad value is told.
  public static let problem =
    "\"traceparent\" must be a W3C traceparent: 00-<32 hex trace id>-<16 hex parent id>-"
    + "<2 hex flags>, lower case, ids not all zeros"

  public init?(_ text: String) {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 4, parts[0] == "00", Self.isHex(parts[1], 32), Self.isHex(parts[2], 16),
      Self.isHex(parts[3], 2), parts[1].contains(where: { $0 != "0" }),
      parts[2].contains(where: { $0 != "0" })
    else { return nil }
    traceID = String(parts[1])
    parentID = String(parts[2])
    flags = String(parts[3])
  }

  public var text: String { "00-\(traceID)-\(parentID)-\(flags)" }

  static func isHex(_ s: Substring, _ count: Int) -> Bool {
    s.utf8.count == count
      && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
  }
}
