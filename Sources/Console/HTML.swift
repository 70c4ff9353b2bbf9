/// A fragment of HTML that is safe by construction.
///
/// Text and attribute values are always escaped; tag and attribute names are `StaticString`s, so only the
/// console's own code can name them. There is no way to splice a raw string in: a value from YAML, from the state
/// store or from an agent can only ever become text.
public struct HTML: Sendable, CustomStringConvertible {
    public private(set) var rendered: String

    private init(rendered: String) {
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
        let name = string(tag)
        var out = "<"
        out += name
        for (attribute, value) in attributes {
            guard let value else { continue }
            out += " "
            out += string(attribute)
            out += "=\""
            out += escape(value)
            out += "\""
        }
        out += ">"
        if isVoid(name) { return HTML(rendered: out) }
        for child in children { out += child.rendered }
        out += "</"
        out += name
        out += ">"
        return HTML(rendered: out)
    }

    private static func string(_ name: StaticString) -> String {
        name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
    }

    private static func isVoid(_ tag: String) -> Bool {
        switch tag {
        case "meta", "link", "br", "input", "img", "hr": true
        default: false
        }
    }

    /// A whole document: the doctype, then `html`.
    public static func document(_ html: HTML) -> HTML { HTML(rendered: "<!DOCTYPE html>\n" + html.rendered) }

    /// Escapes the five characters that matter in text and in double-quoted attribute values.
    public static func escape(_ value: String) -> String {
        let special: (UInt8) -> Bool = {
            $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">")
                || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'")
        }
        guard value.utf8.contains(where: special) else { return value }
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
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
