package org.fwmerge.io;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict RFC 8259 JSON parser for checkpoint headers, index files and adapter configurations.
 *
 * <p>Stricter than most: duplicate keys, a byte-order mark, comments, trailing commas, NaN/Infinity
 * literals, a second value after the first, raw control characters in strings and lone surrogate
 * escapes are all errors, and nesting is limited (as serde_json does) so hostile input cannot
 * overflow the stack. Numbers keep their literal text so callers decide whether a value is an
 * integer (the safetensors reference refuses {@code 1.0} and {@code 1e0} where it needs one).
 *
 * <p>Values map to: object → unmodifiable {@code Map<String,Object>} (in input order), array →
 * unmodifiable {@code List<Object>}, string → {@code String}, number → {@link Num}, true/false →
 * {@code Boolean}, null → {@link #NULL}.
 */
final class StrictJson {

    /** The JSON {@code null} value. */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** serde_json's default recursion limit. */
    private static final int MAX_DEPTH = 128;

    private static final BigInteger TWO_POW_64 = BigInteger.ONE.shiftLeft(64);

    /** A JSON number, kept as its literal text. */
    record Num(String text) {
        /** Whether the literal has neither fraction nor exponent. */
        boolean isIntegerLiteral() {
            return text.indexOf('.') < 0 && text.indexOf('e') < 0 && text.indexOf('E') < 0;
        }

        /** The value as a double (for fields such as {@code lora_alpha} that may be fractional). */
        double doubleValue() {
            return Double.parseDouble(text);
        }

        @Override
        public String toString() {
            return text;
        }
    }

    /** Malformed JSON; the message gives the character offset. */
    static final class SyntaxException extends Exception {
        private static final long serialVersionUID = 1L;

        SyntaxException(String message) {
            super(message);
        }
    }

    private final String s;
    private int pos;

    private StrictJson(String s) {
        this.s = s;
    }

    /**
     * Decodes UTF-8 strictly: malformed bytes (overlong forms, encoded surrogates, truncated
     * sequences) are errors, never replaced as {@code new String(bytes, UTF_8)} would.
     *
     * @throws SyntaxException naming the byte offset of the first invalid sequence
     */
    static String decodeUtf8(byte[] bytes) throws SyntaxException {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = dec.decode(in, out, true);
        if (r.isError()) {
            throw new SyntaxException("invalid UTF-8 at byte " + in.position() + " (byte 0x"
                    + String.format("%02X", bytes[in.position()] & 0xFF) + ")");
        }
        r = dec.flush(out);
        if (r.isError()) {
            throw new SyntaxException("invalid UTF-8 at the end of the input");
        }
        out.flip();
        return out.toString();
    }

    /** Parses exactly one JSON value surrounded by optional whitespace. */
    static Object parse(String text) throws SyntaxException {
        StrictJson p = new StrictJson(text);
        p.skipWs();
        if (p.pos == text.length()) {
            throw new SyntaxException("empty input: expected a JSON value");
        }
        Object v = p.value(0);
        p.skipWs();
        if (p.pos != text.length()) {
            throw p.error("unexpected " + p.describe() + " after the JSON value");
        }
        return v;
    }

    /**
     * The value of an integer literal in [0, 2^64), as a {@link BigInteger}.
     *
     * @return null if {@code v} is not such a number (not a number, fractional, exponent, negative,
     *         or too large)
     */
    static BigInteger unsigned64(Object v) {
        if (!(v instanceof Num n) || !n.isIntegerLiteral() || n.text.startsWith("-")) {
            return null;
        }
        BigInteger b = new BigInteger(n.text);
        return b.compareTo(TWO_POW_64) < 0 ? b : null;
    }

    private Object value(int depth) throws SyntaxException {
        if (depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH);
        }
        if (pos >= s.length()) {
            throw error("unexpected end of input, expected a value");
        }
        char c = s.charAt(pos);
        switch (c) {
            case '{':
                return object(depth);
            case '[':
                return array(depth);
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return NULL;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected " + describe() + ", expected a value");
        }
    }

    private Map<String, Object> object(int depth) throws SyntaxException {
        pos++; // '{'
        LinkedHashMap<String, Object> map = new LinkedHashMap<>();
        skipWs();
        if (peek() == '}') {
            pos++;
            return Collections.unmodifiableMap(map);
        }
        while (true) {
            skipWs();
            if (peek() != '"') {
                throw error("unexpected " + describe() + ", expected a string key");
            }
            int keyAt = pos;
            String key = string();
            skipWs();
            expect(':');
            skipWs();
            Object v = value(depth + 1);
            if (map.putIfAbsent(key, v) != null) {
                pos = keyAt;
                throw error("duplicate key \"" + key + "\"");
            }
            skipWs();
            char c = peek();
            if (c == ',') {
                pos++;
                continue;
            }
            if (c == '}') {
                pos++;
                return Collections.unmodifiableMap(map);
            }
            throw error("unexpected " + describe() + ", expected ',' or '}'");
        }
    }

    private List<Object> array(int depth) throws SyntaxException {
        pos++; // '['
        List<Object> list = new ArrayList<>();
        skipWs();
        if (peek() == ']') {
            pos++;
            return Collections.unmodifiableList(list);
        }
        while (true) {
            skipWs();
            list.add(value(depth + 1));
            skipWs();
            char c = peek();
            if (c == ',') {
                pos++;
                continue;
            }
            if (c == ']') {
                pos++;
                return Collections.unmodifiableList(list);
            }
            throw error("unexpected " + describe() + ", expected ',' or ']'");
        }
    }

    private String string() throws SyntaxException {
        pos++; // opening quote
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (pos >= s.length()) {
                throw error("unterminated string");
            }
            char c = s.charAt(pos);
            if (c == '"') {
                pos++;
                return sb.toString();
            }
            if (c < 0x20) {
                throw error("raw control character U+" + String.format("%04X", (int) c) + " in string");
            }
            if (c != '\\') {
                sb.append(c);
                pos++;
                continue;
            }
            pos++;
            if (pos >= s.length()) {
                throw error("unterminated escape");
            }
            char e = s.charAt(pos++);
            switch (e) {
                case '"': sb.append('"'); break;
                case '\\': sb.append('\\'); break;
                case '/': sb.append('/'); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u': {
                    char u = hex4();
                    if (Character.isHighSurrogate(u)) {
                        // A high surrogate must be followed by an escaped low surrogate: UTF-8 cannot carry a lone one.
                        if (pos + 1 < s.length() && s.charAt(pos) == '\\' && s.charAt(pos + 1) == 'u') {
                            pos += 2;
                            char low = hex4();
                            if (!Character.isLowSurrogate(low)) {
                                throw error("lone surrogate escape \\u" + String.format("%04X", (int) u));
                            }
                            sb.append(u).append(low);
                        } else {
                            throw error("lone surrogate escape \\u" + String.format("%04X", (int) u));
                        }
                    } else if (Character.isLowSurrogate(u)) {
                        throw error("lone surrogate escape \\u" + String.format("%04X", (int) u));
                    } else {
                        sb.append(u);
                    }
                    break;
                }
                default:
                    pos--;
                    throw error("invalid escape \\" + e);
            }
        }
    }

    private char hex4() throws SyntaxException {
        if (pos + 4 > s.length()) {
            throw error("truncated \\u escape");
        }
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = Character.digit(s.charAt(pos + i), 16);
            if (d < 0 || s.charAt(pos + i) > 'f') {
                throw error("invalid hex digit in \\u escape");
            }
            v = v * 16 + d;
        }
        pos += 4;
        return (char) v;
    }

    private Num number() throws SyntaxException {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
        } else if (isDigit(peek())) {
            while (isDigit(peek())) {
                pos++;
            }
        } else {
            throw error("invalid number");
        }
        if (peek() == '.') {
            pos++;
            if (!isDigit(peek())) {
                throw error("invalid number: digit expected after '.'");
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!isDigit(peek())) {
                throw error("invalid number: digit expected in exponent");
            }
            while (isDigit(peek())) {
                pos++;
            }
        }
        return new Num(s.substring(start, pos));
    }

    private void literal(String word) throws SyntaxException {
        if (!s.startsWith(word, pos)) {
            throw error("unexpected " + describe() + ", expected a value");
        }
        pos += word.length();
    }

    private void expect(char c) throws SyntaxException {
        if (peek() != c) {
            throw error("unexpected " + describe() + ", expected '" + c + "'");
        }
        pos++;
    }

    private void skipWs() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                pos++;
            } else {
                return;
            }
        }
    }

    private char peek() {
        return pos < s.length() ? s.charAt(pos) : '\0';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private String describe() {
        if (pos >= s.length()) {
            return "end of input";
        }
        int cp = s.codePointAt(pos);
        return cp >= 0x20 && cp < 0x7F ? "'" + (char) cp + "'" : "character U+" + String.format("%04X", cp);
    }

    private SyntaxException error(String what) {
        return new SyntaxException(what + " at character " + pos);
    }

    /** Appends {@code value} as a JSON string the way serde_json writes it (only required escapes). */
    static void appendString(StringBuilder out, String value) {
        out.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"': out.append("\\\""); break;
                case '\\': out.append("\\\\"); break;
                case '\n': out.append("\\n"); break;
                case '\r': out.append("\\r"); break;
                case '\t': out.append("\\t"); break;
                case '\b': out.append("\\b"); break;
                case '\f': out.append("\\f"); break;
                default:
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
            }
        }
        out.append('"');
    }
}
