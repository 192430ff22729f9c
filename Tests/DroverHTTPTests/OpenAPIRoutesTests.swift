import DroverCore
import Foundation
import Testing

@testable import DroverHTTP

/// The OpenAPI document and the server's route table name the same routes, and the served copy
/// is the one in docs/.
@Suite("openapi")
struct OpenAPIRoutesTests {
  @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
    let doc = try JSONValue.parse(OpenAPIDocument.json)
    var documented = Set<String>()
    for p in doc["paths"]?.objectValue ?? [] {
      for m in p.value.objectValue ?? [] { documented.insert(m.key.uppercased() + " " + p.key) }
    }
    let served = Set(APIRoutes.table.map { $0.method.rawValue + " " + $0.path })
    #expect(
      served.subtracting(documented).isEmpty, "undocumented: \(served.subtracting(documented))")
    #expect(documented.subtracting(served).isEmpty, "not served: \(documented.subtracting(served))")
  }

  @Test func theEmbeddedDocumentIsDocsOpenAPIJSON() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let text = try String(
      contentsOf: root.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
    #expect(text == OpenAPIDocument.json + "\n", "run python3 scripts/openapi.py")
  }

  @Test func tokensCompareWholly() {
    #expect(AccessPolicy.same(Array("abc".utf8), Array("abc".utf8)))
    #expect(!AccessPolicy.same(Array("abc".utf8), Array("abd".utf8)))
    #expect(!AccessPolicy.same(Array("abc".utf8), Array("abcd".utf8)))
    #expect(!AccessPolicy.same([], Array("a".utf8)))
  }
}
