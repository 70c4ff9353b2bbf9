/// A fragment of HTML that is safe by construction.
///
/// Text and attribute values are always escaped; tag and attribute names are `StaticString`s, so only the
/// console's own code can name them. There is no way to splice a raw string in: a value from YAML, from the state
/// store or from an agent can only ever become text.
public struct HTML: Sendable, CustomStringConvertible {
    public private(set) var rendered: String

    fileprivate init(rendered: String) {
        self.rendered = rendered
    }

    public var description: String { rendered }

    public static let empty = HTML(rendered: "")

    /// Text, escaped.
    public static func text(_ value: String) -> HTML { HTML(rendered: escape(value)) }

    /// Fragments one after another.
    public static func group(_ children: [HTML]) -> HTML { HTML(rendered: children.map(\.rendered).joined()) }

    /// An element with attributes (a nil value leaves the attribute out) and children.
    public static func element(_ tag: StaticString, _ attributes: [(StaticString, String?)] = [], _ children: [HTML])
        -> HTML
    {
        // Names are appended as their bytes and values escaped only when they need it: a site page of 100,000
        // nodes builds half a million elements.
        var buffer = HTMLBuffer()
        guard buffer.open(tag, attributes) else { return buffer.html }
        for child in children { buffer.append(child) }
        buffer.close(tag)
        return buffer.html
    }

    fileprivate static func isVoid(_ tag: StaticString) -> Bool {
        tag.withUTF8Buffer { name in voidTags.contains { $0.elementsEqual(name) } }
    }

    private static let voidTags: [[UInt8]] = ["meta", "link", "br", "input", "img", "hr"].map { Array($0.utf8) }

    /// A whole document: the doctype, then `html`.
    public static func document(_ html: HTML) -> HTML { HTML(rendered: "<!DOCTYPE html>\n" + html.rendered) }

    /// Escapes the five characters that matter in text and in double-quoted attribute values.
    public static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { entity(for: $0) != nil }) else { return value }
        var buffer = HTMLBuffer(capacity: value.utf8.count + 16)
        buffer.text(value)
        return buffer.html.rendered
    }

    /// The entity that stands for an ASCII byte text must not carry as it is; nil for every other byte.
    fileprivate static func entity(for byte: UInt8) -> StaticString? {
        switch byte {
        case UInt8(ascii: "&"): "&amp;"
        case UInt8(ascii: "<"): "&lt;"
        case UInt8(ascii: ">"): "&gt;"
        case UInt8(ascii: "\""): "&quot;"
        case UInt8(ascii: "'"): "&#39;"
        default: nil
        }
    }
}

/// Elements appended one after another to one buffer, as `HTML.element` writes them: for long runs of small
/// elements (a site page of 100,000 nodes has as many cells), without a string per element and per child.
/// Names are `StaticString`s and values escaped, as everywhere.
struct HTMLBuffer {
    /// UTF-8 bytes: appending to a `String` piece by piece cost ~700 instructions a piece (capacity and ASCII
    /// checks), most of a site page of 100,000 cells.
    private var out: [UInt8] = []

    init(capacity: Int = 0) {
        out.reserveCapacity(capacity)
    }

    /// `<tag attributes>`; false for a void element, which has no children and no end tag.
    @discardableResult
    mutating func open(_ tag: StaticString, _ attributes: [(StaticString, String?)] = []) -> Bool {
        // Names are appended as their bytes and values escaped only when they need it.
        out.append(UInt8(ascii: "<"))
        write(tag)
        for (attribute, value) in attributes {
            guard let value else { continue }
            out.append(UInt8(ascii: " "))
            write(attribute)
            write("=\"")
            writeEscaped(value)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: ">"))
        return !HTML.isVoid(tag)
    }

    /// `</tag>`, after `open` answered true.
    mutating func close(_ tag: StaticString) {
        write("</")
        write(tag)
        out.append(UInt8(ascii: ">"))
    }

    /// Text, escaped.
    mutating func text(_ value: String) { writeEscaped(value) }

    mutating func append(_ html: HTML) { out.append(contentsOf: html.rendered.utf8) }

    /// An element with only text inside.
    mutating func element(_ tag: StaticString, _ attributes: [(StaticString, String?)] = [], text value: String) {
        guard open(tag, attributes) else { return }
        text(value)
        close(tag)
    }

    var html: HTML { HTML(rendered: String(decoding: out, as: UTF8.self)) }

    private mutating func write(_ name: StaticString) {
        name.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// `value` escaped, byte by byte: the five characters are ASCII, and UTF-8 never uses an ASCII byte inside a
    /// longer sequence, so the bytes between them are copied as they are.
    private mutating func writeEscaped(_ value: String) {
        var value = value
        value.withUTF8 { bytes in
            var start = 0
            for index in bytes.indices {
                guard let entity = HTML.entity(for: bytes[index]) else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                write(entity)
                start = index + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
    }
}

/// Short spellings for page code: `el("td", ["class": "x"], .text(name))`.
func el(_ tag: StaticString, _ attributes: [(StaticString, String?)] = [], _ children: HTML...) -> HTML {
    HTML.element(tag, attributes, children)
}

func el(_ tag: StaticString, _ attributes: [(StaticString, String?)] = [], children: [HTML]) -> HTML {
    HTML.element(tag, attributes, children)
}

func text(_ value: String) -> HTML { .text(value) }
