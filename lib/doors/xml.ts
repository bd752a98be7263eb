import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { InvalidRequestError } from '../errors';

/**
 * Safe reading of an XML body (for the Salesforce door): no DTD, so no entity can be declared,
 * expanded or fetched (no billion laughs, no XXE); only the five predefined entities and character
 * references are decoded, in one pass that cannot expand; nesting is bounded; the body's size is
 * bounded before this runs (`bodyBytes`). Every problem is an InvalidRequestError (400).
 *
 * Namespaces are resolved here, so callers match elements by namespace URI and local name, whatever
 * prefixes the sender chose (`soapenv:`, `SOAP-ENV:`, a default namespace, ...).
 */

/** An element with its namespace resolved and its text decoded. */
export interface XmlElement {
  /** The namespace URI, or undefined for an element in no namespace. */
  namespace: string | undefined;
  /** The local name (without prefix). */
  name: string;
  attributes: XmlAttribute[];
  children: XmlElement[];
  /** The element's own text (its text and CDATA children, decoded), untrimmed. */
  text: string;
  /** The prefixes in scope on this element (`''` is the default namespace): for QName values such as `xsi:type`. */
  namespaces: ReadonlyMap<string, string>;
}

export interface XmlAttribute {
  namespace: string | undefined;
  name: string;
  value: string;
}

export const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';
const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';

/** Declarations a safe reader never processes: they only appear in or as a DTD. */
const DTD_DECLARATION = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;

const PREDEFINED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Characters XML 1.0 allows (section 2.2). */
function isXmlCharacter(codePoint: number): boolean {
  return (
    codePoint === 0x9 ||
    codePoint === 0xa ||
    codePoint === 0xd ||
    (codePoint >= 0x20 && codePoint <= 0xd7ff) ||
    (codePoint >= 0xe000 && codePoint <= 0xfffd) ||
    (codePoint >= 0x10000 && codePoint <= 0x10ffff)
  );
}

/**
 * Decodes the predefined entities and character references of a text, in one pass: a decoded `&`
 * is never read again, so nothing expands. Any other `&` (an undeclared entity, a bare ampersand)
 * makes the document not well-formed.
 */
function decodeReferences(raw: string): string {
  return raw.replace(/&([^;]{0,12});/g, (_, reference: string) => {
    const named = PREDEFINED_ENTITIES[reference];
    if (named !== undefined) return named;
    const numeric = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(reference);
    const codePoint = numeric ? parseInt(numeric[1] ?? numeric[2] ?? '', numeric[1] ? 16 : 10) : NaN;
    if (!isXmlCharacter(codePoint)) {
      throw new InvalidRequestError(
        `body: not well-formed XML: unknown reference &${reference.slice(0, 12)};`,
      );
    }
    return String.fromCodePoint(codePoint);
  });
}

function decodeText(raw: string): string {
  if (!raw.includes('&')) return raw;
  const decoded = decodeReferences(raw);
  // An `&` left over was not the start of a reference (`a & b`, `&amp` without `;`).
  if (/&/.test(raw.replace(/&([^;]{0,12});/g, ''))) {
    throw new InvalidRequestError('body: not well-formed XML: a bare "&"');
  }
  return decoded;
}

/** The parser's ordered node: `{ [tag]: children, ':@'?: attributes }`, or `{ '#text': ... }`. */
type OrderedNode = Record<string, unknown>;

const ATTRIBUTE_PREFIX = '@_';
const TEXT = '#text';
const CDATA = '#cdata';
const ATTRIBUTES = ':@';

function makeParser(maxDepth: number): XMLParser {
  return new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: ATTRIBUTE_PREFIX,
    // Entity expansion off: references stay as written and are decoded by `decodeText` only.
    processEntities: false,
    htmlEntities: false,
    // Text stays text: a phone "00123" or an id must not become a number.
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    cdataPropName: CDATA,
    ignoreDeclaration: true,
    ignorePiTags: true,
    maxNestedTags: maxDepth,
  });
}

function split(qualifiedName: string): { prefix: string; local: string } {
  const colon = qualifiedName.indexOf(':');
  return colon < 0
    ? { prefix: '', local: qualifiedName }
    : { prefix: qualifiedName.slice(0, colon), local: qualifiedName.slice(colon + 1) };
}

function resolvePrefix(prefix: string, scope: ReadonlyMap<string, string>, what: string): string | undefined {
  if (prefix === 'xml') return XML_NAMESPACE;
  const namespace = scope.get(prefix);
  if (prefix !== '' && namespace === undefined) {
    throw new InvalidRequestError(
      `body: not well-formed XML: undeclared namespace prefix "${prefix}" on ${what}`,
    );
  }
  return namespace === '' ? undefined : namespace;
}

function toElement(node: OrderedNode, parentScope: ReadonlyMap<string, string>): XmlElement {
  const tag = Object.keys(node).find((key) => key !== ATTRIBUTES) as string;
  const rawAttributes = (node[ATTRIBUTES] ?? {}) as Record<string, string>;
  const scope = new Map(parentScope);
  const declared: Array<[string, string]> = [];
  for (const [key, raw] of Object.entries(rawAttributes)) {
    const name = key.slice(ATTRIBUTE_PREFIX.length);
    const value = decodeText(raw);
    if (name === 'xmlns') declared.push(['', value]);
    else if (name.startsWith('xmlns:')) declared.push([name.slice('xmlns:'.length), value]);
  }
  for (const [prefix, uri] of declared) scope.set(prefix, uri);

  const { prefix, local } = split(tag);
  const attributes: XmlAttribute[] = [];
  for (const [key, raw] of Object.entries(rawAttributes)) {
    const name = key.slice(ATTRIBUTE_PREFIX.length);
    if (name === 'xmlns' || name.startsWith('xmlns:')) continue;
    const parts = split(name);
    // An unprefixed attribute is in no namespace (not the default one).
    const namespace =
      parts.prefix === '' ? undefined : resolvePrefix(parts.prefix, scope, `attribute ${name}`);
    attributes.push({ namespace, name: parts.local, value: decodeText(raw) });
  }

  const children: XmlElement[] = [];
  let text = '';
  for (const child of node[tag] as OrderedNode[]) {
    if (TEXT in child) text += decodeText(child[TEXT] as string);
    else if (CDATA in child) {
      for (const part of child[CDATA] as OrderedNode[]) text += (part[TEXT] as string | undefined) ?? '';
    } else children.push(toElement(child, scope));
  }
  return {
    namespace: resolvePrefix(prefix, scope, `element ${tag}`),
    name: local,
    attributes,
    children,
    text,
    namespaces: scope,
  };
}

/**
 * Reads an XML document into its root element, refusing (InvalidRequestError) a DTD, a document
 * that is not well-formed, undeclared prefixes or entities, and nesting deeper than `maxDepth`.
 */
export function readXml(text: string, { maxDepth }: { maxDepth: number }): XmlElement {
  if (DTD_DECLARATION.test(text)) {
    throw new InvalidRequestError(
      'body: a DTD or entity declaration (<!DOCTYPE>, <!ENTITY>) is not accepted',
    );
  }
  const validation = XMLValidator.validate(text);
  if (validation !== true) {
    throw new InvalidRequestError(
      `body: not well-formed XML: ${validation.err.msg} (line ${validation.err.line})`,
    );
  }
  let nodes: OrderedNode[];
  try {
    nodes = makeParser(maxDepth).parse(text) as OrderedNode[];
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidRequestError(`body: not readable XML: ${reason.slice(0, 200)}`);
  }
  const roots = nodes.filter((node) => !(TEXT in node) && !(CDATA in node));
  if (roots.length !== 1) throw new InvalidRequestError('body: an XML document has exactly one root element');
  if (nodes.some((node) => TEXT in node && (node[TEXT] as string).trim() !== '')) {
    throw new InvalidRequestError('body: not well-formed XML: text outside the root element');
  }
  return toElement(roots[0] as OrderedNode, new Map());
}

/** The child elements of `parent` with this namespace and local name. */
export function childrenNamed(parent: XmlElement, namespace: string | undefined, name: string): XmlElement[] {
  return parent.children.filter((child) => child.namespace === namespace && child.name === name);
}

/** The first child element with this namespace and local name. */
export function childNamed(
  parent: XmlElement,
  namespace: string | undefined,
  name: string,
): XmlElement | undefined {
  return parent.children.find((child) => child.namespace === namespace && child.name === name);
}

export function attributeValue(
  element: XmlElement,
  namespace: string | undefined,
  name: string,
): string | undefined {
  return element.attributes.find((attribute) => attribute.namespace === namespace && attribute.name === name)
    ?.value;
}

/** `xsi:nil="true"`: the element stands for a null value. */
export function isNil(element: XmlElement): boolean {
  const nil = attributeValue(element, XSI_NAMESPACE, 'nil');
  return nil === 'true' || nil === '1';
}

/** A QName value (`sf:Contact`) resolved against the prefixes in scope on `element`. */
export function resolveQName(
  element: XmlElement,
  value: string,
): { namespace: string | undefined; name: string } | undefined {
  const { prefix, local } = split(value.trim());
  const namespace = prefix === '' ? element.namespaces.get('') : element.namespaces.get(prefix);
  if (prefix !== '' && namespace === undefined) return undefined;
  return { namespace: namespace === '' ? undefined : namespace, name: local };
}
