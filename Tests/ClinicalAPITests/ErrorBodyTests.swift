import Foundation
import Testing
@testable import ClinicalAPI

@Suite struct ErrorBodyTests {
    @Test("an error body is valid JSON whatever the message holds: quotes, backslashes, newlines, tabs, control characters")
    func errorBodiesAreValidJSON() throws {
        for message in ["plain", #"quote " and backslash \"#, "libpq:\n\tserver closed the connection\u{1}", "ünïcode ✓"] {
            let body = errorBody(message)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: String])
            #expect(object == ["error": message])
        }
    }
}
