/// Text compared, ordered and hashed by its UTF-8 bytes, as PostgreSQL compares text keys.
///
/// Swift's `String ==` calls canonically equivalent text equal ("é" as one scalar, or "e" and a
/// combining accent). For identifiers that is wrong: two the database keeps apart would share one
/// cache entry, and one patient's rows could be stored under the other's id. Identifiers
/// (patients, devices, message keys) compare through this type instead.
public struct ExactText: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var text: String

    @inlinable
    public init(_ text: String) { self.text = text }

    public var description: String { text }

    @inlinable
    public static func == (lhs: ExactText, rhs: ExactText) -> Bool {
        lhs.text.utf8.count == rhs.text.utf8.count && lhs.text.utf8.elementsEqual(rhs.text.utf8)
    }

    @inlinable
    public static func < (lhs: ExactText, rhs: ExactText) -> Bool {
        lhs.text.utf8.lexicographicallyPrecedes(rhs.text.utf8)
    }

    @inlinable
    public func hash(into hasher: inout Hasher) {
        // The length first, so that the fields of a composite key cannot run into each other.
        hasher.combine(text.utf8.count)
        let hashed: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in text.utf8 { hasher.combine(byte) }
        }
    }
}
