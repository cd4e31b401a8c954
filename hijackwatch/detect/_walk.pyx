# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled tree walks and text scans of hijackwatch.detect.document (same facts,
same tree, same answers).

``document._walk`` in pure Python is the reference: iterating with lxml creates a
Python proxy for every element it yields and each ``.get``/``.text`` is a Python
call, which made the walk cost more than the parse. Here the libxml2 nodes are read
directly (struct fields only; lxml links libxml2 statically, so its functions are
not called, but for the two ``strip`` looks up in lxml.etree), and strings, proxies
and tree writes go through lxml's public C API: proxies are made only for the
elements a fact keeps.

Rare, intricate steps (reading stylesheets, <meta>, marquees) stay in document.py
and are called from here, so both paths share them; the elements a stylesheet's
selectors pick are found here (``select``), and hidden blocks are read here
(``hidden_blocks``). The two regex scans over the
whole page text before parsing (end tags, control characters) are done here too,
reading the str's buffer, and css.py lowercases ASCII stylesheets, tests them for
comments and finds their font-size anchors here.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.unicode cimport (
    PyUnicode_DATA,
    PyUnicode_DecodeUTF8,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
)
from libc.stdint cimport uint16_t, uint32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memchr, memcpy, strcmp, strlen, strstr
from lxml.includes cimport tree
from lxml.includes.etreepublic cimport (
    _Document,
    _Element,
    _isElement,
    attributeValue,
    elementFactory,
    import_lxml__etree,
    setNodeText,
    setTailText,
    tailOf,
    textOf,
)

import os

from lxml import etree

import_lxml__etree()

cdef extern from "<dlfcn.h>" nogil:
    void* dlopen(const char* filename, int flags)
    void* dlsym(void* handle, const char* symbol)
    int RTLD_LAZY
    int RTLD_NOLOAD

ctypedef void (*node_fn)(tree.xmlNode* node) noexcept nogil
ctypedef tree.xmlNode* (*new_text_fn)(tree.xmlDoc* doc, const unsigned char* content) noexcept nogil
ctypedef tree.xmlNode* (*add_fn)(tree.xmlNode* cur, tree.xmlNode* elem) noexcept nogil

# libxml2's tree functions lxml's own tree edits use (strip_elements, and setting
# .text and .tail), as lxml.etree (which links libxml2 into itself) exports them:
# looked up in the loaded module, not linked, so they are the very same functions.
# Where a lookup fails, ``strip`` and ``visible`` leave the edits to lxml.
cdef node_fn xml_unlink_node = NULL
cdef node_fn xml_free_node = NULL
cdef new_text_fn xml_new_doc_text = NULL
cdef add_fn xml_add_child = NULL
cdef add_fn xml_add_prev_sibling = NULL
cdef add_fn xml_add_next_sibling = NULL


cdef bint load_tree_functions():
    """Look the functions up; whether all were found."""
    global xml_unlink_node, xml_free_node, xml_new_doc_text
    global xml_add_child, xml_add_prev_sibling, xml_add_next_sibling
    cdef bytes path = os.fsencode(etree.__file__)
    cdef void* handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD)
    if handle is NULL:
        return False
    cdef void* found[6]
    cdef int i
    for i, name in enumerate(
        (b"xmlUnlinkNode", b"xmlFreeNode", b"xmlNewDocText", b"xmlAddChild",
         b"xmlAddPrevSibling", b"xmlAddNextSibling")
    ):
        found[i] = dlsym(handle, <const char*>name)
        if found[i] is NULL:
            return False
    xml_unlink_node = <node_fn>found[0]
    xml_free_node = <node_fn>found[1]
    xml_new_doc_text = <new_text_fn>found[2]
    xml_add_child = <add_fn>found[3]
    xml_add_prev_sibling = <add_fn>found[4]
    xml_add_next_sibling = <add_fn>found[5]
    return True


cdef bint edits_in_c = load_tree_functions()
EDITS_IN_C = edits_in_c  # (tests check the fast path is taken)

cdef extern from "Python.h":
    # (macros: plain reads of the string's buffer and of the Unicode database)
    unsigned int char_at "PyUnicode_READ"(int kind, const void* data, Py_ssize_t i) nogil
    bint PyUnicode_IS_ASCII(object text) nogil
    bint is_space "Py_UNICODE_ISSPACE"(unsigned int ch) nogil

# Tag classes (bit flags): the tags each walk of document.py filters on.
cdef enum:
    T_BLOCK = 1 << 0
    T_HEADING = 1 << 1
    T_CELL = 1 << 2
    T_OPTION = 1 << 3
    T_TABLE = 1 << 4
    T_LISTBOX = 1 << 5
    T_A = 1 << 6
    T_IFRAME = 1 << 7
    T_SCRIPT = 1 << 8
    T_META = 1 << 9
    T_LINK = 1 << 10
    T_TITLE = 1 << 11
    T_BASE = 1 << 12
    T_STYLE = 1 << 13
    T_MARQUEE = 1 << 14
    T_NOSCRIPT = 1 << 15
    T_SKIP = 1 << 16  # document._SKIP: stripped before the visible walk

cdef enum:
    T_HEAD = T_SCRIPT | T_META | T_LINK | T_TITLE | T_BASE | T_STYLE

# Set by document.py (setup): classes, shared helpers and limits.
cdef tuple SKIP_TAGS = ()
cdef object Link = None
cdef object HeadFacts = None
cdef object HiddenBlock = None
cdef object text_of = None
cdef object hiding_reason = None
cdef object attr_hidden = None
cdef object meta = None
cdef object alternate = None
cdef object repeated_ids = None
cdef object link_domain = None
cdef object registrable_domain = None
cdef Py_ssize_t max_links = 0
cdef Py_ssize_t max_scripts_chars = 0
cdef Py_ssize_t max_script_srcs = 0
cdef Py_ssize_t max_id_group = 0
cdef Py_ssize_t max_hiding_attrs = 0
cdef Py_ssize_t max_handlers = 0
cdef Py_ssize_t max_handler_chars = 0
cdef Py_ssize_t max_misplaced = 0


def setup(**names):
    """Receive document.py's classes, helpers and limits (no import cycle)."""
    global Link, HeadFacts, HiddenBlock, SKIP_TAGS, text_of, hiding_reason, attr_hidden
    global meta, alternate, repeated_ids
    global link_domain, registrable_domain, max_links, max_scripts_chars, max_script_srcs
    global max_id_group, max_hiding_attrs, max_handlers, max_handler_chars, max_misplaced
    Link = names["Link"]
    HeadFacts = names["HeadFacts"]
    HiddenBlock = names["HiddenBlock"]
    SKIP_TAGS = names["skip_tags"]
    text_of = names["text_of"]
    hiding_reason = names["hiding_reason"]
    attr_hidden = names["attr_hidden"]
    meta = names["meta"]
    alternate = names["alternate"]
    repeated_ids = names["repeated_ids"]
    link_domain = names["link_domain"]
    registrable_domain = names["registrable_domain"]
    max_links = names["max_links"]
    max_scripts_chars = names["max_scripts_chars"]
    max_script_srcs = names["max_script_srcs"]
    max_id_group = names["max_id_group"]
    max_hiding_attrs = names["max_hiding_attrs"]
    max_handlers = names["max_handlers"]
    max_handler_chars = names["max_handler_chars"]
    max_misplaced = names["max_misplaced"]


cdef inline bint eq(const char* a, const char* b) noexcept nogil:
    return strcmp(a, b) == 0


cdef int tag_flags(const char* n) noexcept nogil:
    """The classes of a tag name (libxml2's HTML parser stores them lowercased)."""
    cdef char c = n[0]
    if c == c'd':
        if eq(n, "div") or eq(n, "dd") or eq(n, "dt") or eq(n, "dl"):
            return T_BLOCK
        if eq(n, "datalist"):
            return T_LISTBOX
    elif c == c'a':
        if n[1] == 0:
            return T_A
        if eq(n, "article") or eq(n, "aside") or eq(n, "address"):
            return T_BLOCK
    elif c == c'p':
        if n[1] == 0 or eq(n, "pre"):
            return T_BLOCK
    elif c == c'l':
        if eq(n, "li"):
            return T_BLOCK
        if eq(n, "link"):
            return T_LINK | T_SKIP
    elif c == c't':
        if eq(n, "td") or eq(n, "tr") or eq(n, "th"):
            return T_BLOCK | T_CELL
        if eq(n, "table"):
            return T_BLOCK | T_TABLE
        if eq(n, "title"):
            return T_TITLE | T_SKIP
        if eq(n, "template"):
            return T_SKIP
    elif c == c's':
        if eq(n, "script"):
            return T_SCRIPT | T_SKIP
        if eq(n, "section"):
            return T_BLOCK
        if eq(n, "style"):
            return T_STYLE | T_SKIP
        if eq(n, "select"):
            return T_LISTBOX
    elif c == c'h':
        if n[1] >= c'1' and n[1] <= c'6' and n[2] == 0:
            return T_BLOCK | T_HEADING if n[1] <= c'3' else T_BLOCK
        if eq(n, "header") or eq(n, "hr"):
            return T_BLOCK
        if eq(n, "head"):
            return T_SKIP
    elif c == c'u':
        if eq(n, "ul"):
            return T_BLOCK
    elif c == c'b':
        if eq(n, "br") or eq(n, "body") or eq(n, "blockquote"):
            return T_BLOCK
        if eq(n, "base"):
            return T_BASE
    elif c == c'o':
        if eq(n, "option"):
            return T_BLOCK | T_OPTION
        if eq(n, "ol"):
            return T_BLOCK
    elif c == c'm':
        if eq(n, "meta"):
            return T_META | T_SKIP
        if eq(n, "main"):
            return T_BLOCK
        if eq(n, "marquee"):
            return T_BLOCK | T_MARQUEE
    elif c == c'i':
        if eq(n, "iframe"):
            return T_IFRAME
    elif c == c'f':
        if eq(n, "form") or eq(n, "figcaption") or eq(n, "footer"):
            return T_BLOCK
    elif c == c'n':
        if eq(n, "nav"):
            return T_BLOCK
        if eq(n, "noscript"):
            return T_NOSCRIPT
    elif c == c'c':
        if eq(n, "center"):
            return T_BLOCK
    return 0


cdef inline bint is_element(tree.xmlNode* c) noexcept nogil:
    return c.type == tree.XML_ELEMENT_NODE


cdef unicode attr_value(tree.xmlNode* el, tree.xmlAttr* a):
    """An attribute's value, as ``el.get(name)`` returns it."""
    cdef tree.xmlNode* child = a.children
    cdef const char* s
    if child is NULL:
        return ""  # <div hidden>: libxml2 (and so lxml) reads ""
    if child.next is NULL and child.content is not NULL and (
        child.type == tree.XML_TEXT_NODE or child.type == tree.XML_CDATA_SECTION_NODE
    ):
        s = <const char*>child.content
        return PyUnicode_DecodeUTF8(s, strlen(s), NULL)
    return attributeValue(el, a)


cdef tree.xmlAttr* find_attr(tree.xmlNode* el, const char* name) noexcept nogil:
    """The first attribute ``name`` in no namespace (what ``el.get(name)`` reads)."""
    cdef tree.xmlAttr* a = el.properties
    while a is not NULL:
        if a.ns is NULL and eq(<const char*>a.name, name):
            return a
        a = a.next
    return NULL


cdef inline object opt_attr(tree.xmlNode* el, tree.xmlAttr* a):
    return None if a is NULL else attr_value(el, a)


cdef struct NodeArray:
    tree.xmlNode** items
    Py_ssize_t size
    Py_ssize_t cap


cdef int push(NodeArray* arr, tree.xmlNode* node) except -1:
    cdef tree.xmlNode** grown
    if arr.size == arr.cap:
        arr.cap = arr.cap * 2 if arr.cap else 64
        grown = <tree.xmlNode**>realloc(arr.items, arr.cap * sizeof(tree.xmlNode*))
        if grown is NULL:
            raise MemoryError()
        arr.items = grown
    arr.items[arr.size] = node
    arr.size += 1
    return 0


def scan(doc, _Element root):
    """What ``_ID_VALUES``, ``_collect_head`` (misplaced cells and options included),
    ``_attr_hidden_elements`` and ``root.iter("noscript")`` find, in one walk: returns
    ``(id_values, head, found, noscripts)``.

    The XPath queries of the pure walk ("//...") see every top-level element of the
    document (libxml2 makes a second <html> of some pages), ``root.iter()`` only the
    root: each top-level element is walked, root-only facts taken inside the root.
    """
    cdef _Document pdoc = root._doc
    cdef tree.xmlNode* root_node = root._c_node
    cdef tree.xmlNode* top
    cdef tree.xmlNode* c
    cdef tree.xmlAttr* a
    cdef tree.xmlAttr* id_attr
    cdef tree.xmlAttr* style_attr
    cdef tree.xmlAttr* hidden_attr
    cdef const char* an
    cdef int flags
    cdef bint in_root
    cdef bint judged  # a marquee's own attributes were looked at
    cdef int table_depth = 0
    cdef int listbox_depth = 0
    # root.iter() counts (cells, options) against document-wide XPath counts
    cdef Py_ssize_t cells = 0, tabled_cells = 0, options = 0, listed_options = 0
    cdef Py_ssize_t hiding_attrs = 0
    cdef Py_ssize_t budget = max_scripts_chars
    cdef Py_ssize_t i
    cdef NodeArray id_nodes
    id_nodes.items = NULL
    id_nodes.size = id_nodes.cap = 0
    # cells outside tables and options outside lists, in document order: what
    # document._MISPLACED finds (its ancestor-axis query cost ~20 us on a small page)
    cdef NodeArray misplaced
    misplaced.items = NULL
    misplaced.size = misplaced.cap = 0
    cdef list id_values = []
    cdef list handlers = []  # //*/@onload | //*/@onerror | //*/@onpageshow, in order
    cdef list styles = []
    cdef list unseen_marquees = []
    cdef list noscripts = []
    cdef list keep = []  # attribute values meta_read and link_read built
    cdef dict found = {}
    cdef dict srcs = {}
    cdef list scripts = doc.scripts
    title = None
    canonical = ""
    top = root_node if root_node.parent is NULL else root_node.parent.children
    try:
        while top is not NULL:
            if not is_element(top):
                top = top.next
                continue
            in_root = top is root_node
            c = top
            while True:
                if is_element(c):
                    flags = tag_flags(<const char*>c.name)
                    id_attr = style_attr = hidden_attr = NULL
                    a = c.properties
                    while a is not NULL:
                        if a.ns is NULL:
                            an = <const char*>a.name
                            if an[0] == c'i' and id_attr is NULL and eq(an, "id"):
                                id_attr = a
                            elif an[0] == c's' and style_attr is NULL and eq(an, "style"):
                                style_attr = a
                            elif an[0] == c'h' and hidden_attr is NULL and eq(an, "hidden"):
                                hidden_attr = a
                            elif (
                                an[0] == c'o'
                                and an[1] == c'n'
                                and (eq(an, "onload") or eq(an, "onerror") or eq(an, "onpageshow"))
                                and len(handlers) < max_handlers
                            ):
                                handlers.append(attr_value(c, a)[:max_handler_chars])
                        a = a.next
                    if id_attr is not NULL:
                        id_values.append(attr_value(c, id_attr))
                        push(&id_nodes, c)
                    judged = False
                    if style_attr is not NULL or hidden_attr is not NULL:
                        # //*/@style | //*/@hidden, the first max_hiding_attrs attributes
                        if hiding_attrs < max_hiding_attrs:
                            judged = True
                            if flags & T_MARQUEE:
                                el = elementFactory(pdoc, c)
                                reason = attr_hidden(el)
                            else:
                                reason = None
                                el = None
                                if style_attr is not NULL:
                                    style = attr_value(c, style_attr)
                                    if style:
                                        reason = hiding_reason(style)
                                if not reason and hidden_attr is not NULL:
                                    reason = "hidden attribute"
                            if reason:
                                found[elementFactory(pdoc, c) if el is None else el] = reason
                        hiding_attrs += (style_attr is not NULL) + (hidden_attr is not NULL)
                    if in_root and flags & T_MARQUEE and not judged:
                        unseen_marquees.append(elementFactory(pdoc, c))
                    if in_root and flags & T_NOSCRIPT:
                        noscripts.append(elementFactory(pdoc, c))
                    if in_root and flags & T_HEAD:
                        if flags & T_SCRIPT:
                            src = opt_attr(c, find_attr(c, "src"))
                            if src is not None and len(srcs) < max_script_srcs:
                                srcs.setdefault(src[:2000])
                            if budget > 0 and not src:
                                text = textOf(c)
                                if text:
                                    text = text[:budget]
                                    scripts.append(text)
                                    budget -= len(text)
                        elif flags & T_META:
                            if meta_read(c, keep):
                                meta(
                                    doc,
                                    opt_attr(c, find_attr(c, "name")),
                                    opt_attr(c, find_attr(c, "property")),
                                    opt_attr(c, find_attr(c, "content")),
                                    opt_attr(c, find_attr(c, "http-equiv")),
                                )
                        elif flags & T_STYLE:
                            text = textOf(c)
                            if text:
                                styles.append(text)
                        elif flags & T_TITLE:
                            if title is None:
                                title = textOf(c) or ""
                        elif flags & T_BASE or link_read(c, keep):  # <link> or <base>
                            rel = "base" if flags & T_BASE else opt_attr(c, find_attr(c, "rel"))
                            if rel:
                                alternate(doc, rel, opt_attr(c, find_attr(c, "href")))
                            if not canonical and (
                                flags & T_BASE or (rel or "").lower() == "canonical"
                            ):
                                href = (opt_attr(c, find_attr(c, "href")) or "").strip()
                                if href.lower().startswith(("http://", "https://")):
                                    canonical = href
                    if flags & (T_CELL | T_OPTION | T_TABLE | T_LISTBOX):
                        if flags & T_CELL:
                            cells += in_root
                            tabled_cells += table_depth > 0
                            if table_depth == 0 and misplaced.size < max_misplaced:
                                push(&misplaced, c)
                        if flags & T_OPTION:
                            options += in_root
                            listed_options += listbox_depth > 0
                            if listbox_depth == 0 and misplaced.size < max_misplaced:
                                push(&misplaced, c)
                        if flags & T_TABLE:
                            table_depth += 1
                        if flags & T_LISTBOX:
                            listbox_depth += 1
                    if c.children is not NULL:
                        c = c.children
                        continue
                    # a leaf element: leaving it now
                    if flags & T_TABLE:
                        table_depth -= 1
                    if flags & T_LISTBOX:
                        listbox_depth -= 1
                while c is not top and c.next is NULL:
                    c = c.parent
                    if table_depth or listbox_depth:
                        flags = tag_flags(<const char*>c.name)
                        if flags & T_TABLE:
                            table_depth -= 1
                        if flags & T_LISTBOX:
                            listbox_depth -= 1
                if c is top:
                    break
                c = c.next
            top = top.next if top is not root_node or root_node.parent is not NULL else NULL

        doc.script_srcs = list(srcs)
        doc.title = title or ""
        # <link rel=canonical>/<base> win over og:url, which meta sets when nothing else did.
        doc.canonical = canonical or doc.canonical
        wanted = repeated_ids(id_values)
        if wanted:
            wanted_set = set(wanted)
            ids = doc.ids
            for i in range(id_nodes.size):
                ident = id_values[i]
                if ident in wanted_set:
                    group = ids[ident]
                    if len(group) < max_id_group:
                        group.append(elementFactory(pdoc, id_nodes.items[i]))
        if (cells and cells != tabled_cells) or (options and options != listed_options):
            doc.misplaced.extend(
                [elementFactory(pdoc, misplaced.items[i]) for i in range(misplaced.size)]
            )
    finally:
        free(id_nodes.items)
        free(misplaced.items)
    for el in unseen_marquees:
        reason = attr_hidden(el)
        if reason:
            found[el] = reason
    doc.scripts.extend(handlers)
    return id_values, HeadFacts(styles, []), found, noscripts  # marquees: judged above


cdef bint meta_read(tree.xmlNode* c, list keep) except -1:
    """Whether ``document._meta`` may record anything of this <meta>: its name (else
    its property) is one it reads, or its http-equiv is refresh. Most of a page's
    <meta>s are neither: skipped without making their attribute strs and the call."""
    cdef const char* name = attr_chars(c, "name", keep)
    if name[0] == 0:  # (name or prop or "")
        name = attr_chars(c, "property", keep)
    return (
        may_lower_to(name, "description")
        or may_lower_to(name, "og:description")
        or may_lower_to(name, "keywords")
        or may_lower_to(name, "og:url")
        or may_lower_to(attr_chars(c, "http-equiv", keep), "refresh")
    )


cdef bint link_read(tree.xmlNode* c, list keep) except -1:
    """Whether ``document._alternate`` or the canonical test may read this <link>: its
    rel holds one of the rel words they look for (stylesheets, icons and preloads,
    most of a page's <link>s, do not)."""
    cdef const char* rel = attr_chars(c, "rel", keep)
    return (
        may_contain(rel, "canonical")
        or may_contain(rel, "alternate")
        or may_contain(rel, "amphtml")
        or may_contain(rel, "base")
    )


cdef bint may_contain(const char* s, const char* word) noexcept nogil:
    """Whether ``s.lower()`` (``s`` in UTF-8) may hold ``word`` (lower-case ASCII): it
    does as ASCII, or ``s`` holds a non-ASCII character (as in may_lower_to)."""
    cdef Py_ssize_t i = 0, j
    while s[i] != 0:
        if <unsigned char>s[i] >= 0x80:
            return True
        i += 1
    i = 0
    while s[i] != 0:
        j = 0
        while word[j] != 0 and ascii_lower(<unsigned char>s[i + j]) == <unsigned char>word[j]:
            j += 1
        if word[j] == 0:
            return True
        i += 1
    return False


cdef const char* attr_chars(tree.xmlNode* el, const char* name, list keep) except NULL:
    """Attribute ``name``'s value as UTF-8 (see value_chars), "" when absent."""
    cdef tree.xmlAttr* a = find_attr(el, name)
    if a is NULL:
        return ""
    return value_chars(el, a, keep)


cdef bint may_lower_to(const char* s, const char* word) noexcept nogil:
    """Whether ``s.lower()`` (``s`` in UTF-8) may be ``word`` (lower-case ASCII): it is,
    or ``s`` holds a non-ASCII character (str.lower() maps the Kelvin sign to 'k')."""
    cdef Py_ssize_t i = 0
    cdef bint same = True
    while s[i] != 0:
        if <unsigned char>s[i] >= 0x80:
            return True
        if same and (word[i] == 0 or ascii_lower(<unsigned char>s[i]) != <unsigned char>word[i]):
            same = False
        i += 1
    return same and word[i] == 0


cdef struct Chars:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


cdef int reserve(Chars* buf, Py_ssize_t n) except -1:
    """Room for ``n`` more bytes."""
    cdef char* grown
    if buf.size + n > buf.cap:
        # (a hidden block's text is short: a first 64 KB allocation measured slower)
        buf.cap = max(2 * buf.cap, buf.size + n, 1024)
        grown = <char*>realloc(buf.data, buf.cap)
        if grown is NULL:
            raise MemoryError()
        buf.data = grown
    return 0


cdef int append_chars(Chars* buf, const char* s) except -1:
    cdef Py_ssize_t n = strlen(s)
    reserve(buf, n)
    memcpy(buf.data + buf.size, s, n)
    buf.size += n
    return 0


cdef inline tree.xmlNode* next_in(tree.xmlNode* c, tree.xmlNode* top) noexcept nogil:
    """The node after ``c``'s subtree in document order within ``top``; NULL past it."""
    while c is not top and c.next is NULL:
        c = c.parent
    return NULL if c is top else c.next


cdef inline int gather_text(Chars* buf, tree.xmlNode* c) except -1:
    """What xmlNodeBufGetContent (tostring's text method) gathers of a non-element
    node: 0, or 1 for an entity reference, whose text ``buf`` cannot hold (libxml2's
    HTML parser makes none)."""
    if c.type == tree.XML_TEXT_NODE or c.type == tree.XML_CDATA_SECTION_NODE:
        if c.content is not NULL:
            append_chars(buf, <const char*>c.content)
    elif c.type == tree.XML_ENTITY_REF_NODE:
        return 1
    return 0


cdef const char* value_chars(tree.xmlNode* el, tree.xmlAttr* a, list keep) except NULL:
    """An attribute's value as UTF-8 (kept alive by ``keep`` when built here)."""
    cdef tree.xmlNode* child = a.children
    if child is NULL:
        return ""
    if child.next is NULL and child.content is not NULL and (
        child.type == tree.XML_TEXT_NODE or child.type == tree.XML_CDATA_SECTION_NODE
    ):
        return <const char*>child.content
    value = attributeValue(el, a).encode("utf-8")
    keep.append(value)
    return PyBytes_AS_STRING(value)


cdef tree.xmlNode* next_element(tree.xmlNode* c, tree.xmlNode* top) noexcept nogil:
    """The element after element ``c`` in document order inside ``top``, or NULL (only
    element children are entered, as in the walks above)."""
    cdef tree.xmlNode* child = c.children
    while child is not NULL:
        if is_element(child):
            return child
        child = child.next
    while c is not top:
        while c.next is not NULL:
            c = c.next
            if is_element(c):
                return c
        c = c.parent
    return NULL


def select(_Element root, tuple classes, tuple ids, Py_ssize_t limit):
    """The first ``limit`` elements, in document order, whose class attribute contains
    one of ``classes`` (a substring test) or whose id is one of ``ids``: what
    ``document._selected`` finds with XPath, here in plain walks of the document (every
    top-level element, as "//" does). The first walk drops the classes that no class
    attribute contains, as ``_selected`` does (most rules hide what a page lacks)."""
    cdef tree.xmlNode* root_node = root._c_node
    cdef tree.xmlNode* first = root_node if root_node.parent is NULL else root_node.parent.children
    cdef tree.xmlNode* top
    cdef tree.xmlNode* c
    cdef tree.xmlAttr* a
    cdef const char* value
    cdef Chars used
    cdef list keep = []
    cdef list wanted_classes = []
    cdef list wanted_ids = [i.encode("utf-8") for i in ids]
    cdef list out = []
    cdef bint hit
    used.data = NULL
    used.size = used.cap = 0
    try:
        if classes:
            # every class value, one a line (a class name holds no newline), then NUL
            top = first
            while top is not NULL:
                c = top if is_element(top) else NULL
                while c is not NULL:
                    a = find_attr(c, "class")
                    if a is not NULL:
                        append_chars(&used, value_chars(c, a, keep))
                        append_chars(&used, "\n")
                    c = next_element(c, top)
                top = top.next if root_node.parent is not NULL else NULL
            if used.size:
                used.data[used.size - 1] = 0  # the last newline
                for name in classes:
                    encoded = name.encode("utf-8")
                    if strstr(used.data, PyBytes_AS_STRING(encoded)) is not NULL:
                        wanted_classes.append(encoded)
        if not wanted_classes and not wanted_ids:
            return out
        top = first
        while top is not NULL and len(out) < limit:
            c = top if is_element(top) else NULL
            while c is not NULL and len(out) < limit:
                hit = False
                if wanted_classes:
                    a = find_attr(c, "class")
                    if a is not NULL:
                        value = value_chars(c, a, keep)
                        for name in wanted_classes:
                            if strstr(value, PyBytes_AS_STRING(name)) is not NULL:
                                hit = True
                                break
                if not hit and wanted_ids:
                    a = find_attr(c, "id")
                    if a is not NULL:
                        value = value_chars(c, a, keep)
                        for name in wanted_ids:
                            if strcmp(value, PyBytes_AS_STRING(name)) == 0:
                                hit = True
                                break
                if hit:
                    out.append(elementFactory(root._doc, c))
                c = next_element(c, top)
            top = top.next if root_node.parent is not NULL else NULL
        return out
    finally:
        free(used.data)


def visible(doc, _Element root, LinkDomains domains not None):
    """What ``document._visible`` does: links, iframes, headings and blocks of the
    (stripped) tree in one walk, writing the same newline separators (``domains``: the
    page's link domains). Returns the text ``document._text_of(root)`` then gives (the
    walk passes every text node, new separators included, in document order), or None
    on a tree with entity references.
    """
    cdef _Document pdoc = root._doc
    cdef tree.xmlNode* top = root._c_node
    cdef tree.xmlNode* c = top
    cdef tree.xmlAttr* a
    cdef int flags
    cdef Chars text_nodes
    text_nodes.data = NULL
    text_nodes.size = text_nodes.cap = 0
    cdef bint exact = True  # text_nodes holds all the text (no entity references)
    cdef Chars scratch  # a separator and the text it goes before
    scratch.data = NULL
    scratch.size = scratch.cap = 0
    cdef list links = doc.links
    cdef list iframes = doc.iframes
    cdef list headings = doc.headings
    cdef list blocks = doc.blocks
    site = doc.site
    try:
        while True:
            if is_element(c):
                flags = tag_flags(<const char*>c.name)
                if flags & (T_A | T_IFRAME | T_HEADING | T_BLOCK):
                    if flags & T_A:
                        a = find_attr(c, "href")
                        if a is not NULL and len(links) < max_links:
                            href = attr_value(c, a)
                            if href:
                                domain = domains.get(href)
                                links.append(
                                    Link(
                                        href,
                                        "",
                                        domain,
                                        bool(domain) and domain != site,
                                        False,
                                        elementFactory(pdoc, c),
                                    )
                                )
                    elif flags & T_IFRAME:
                        iframes.append((elementFactory(pdoc, c), False))
                    else:
                        text = textOf(c)
                        if flags & T_HEADING and text:
                            headings.append(text)
                        # The tree is written here, before the walk moves on: the new
                        # text nodes are in place when it reads c.children and c.next.
                        if text:
                            blocks.append((elementFactory(pdoc, c), text))
                        if edits_in_c:
                            write_newline(c, &scratch, False)
                            write_newline(c, &scratch, True)
                        else:
                            setNodeText(c, newline_before(text) if text else b"\n")
                            tail = tailOf(c)
                            setTailText(c, newline_before(tail) if tail else b"\n")
                if c.children is not NULL:
                    c = c.children
                    continue
            elif gather_text(&text_nodes, c):
                exact = False
            c = next_in(c, top)
            if c is NULL:
                break
        if not exact:
            return None
        if not text_nodes.size:
            return ""
        return PyUnicode_DecodeUTF8(text_nodes.data, text_nodes.size, NULL)
    finally:
        free(text_nodes.data)
        free(scratch.data)


cdef int write_newline(tree.xmlNode* el, Chars* buf, bint tail) except -1:
    """``setNodeText(el, "\\n" + text)`` (or ``setTailText`` with the tail), the
    text read from the tree: the same libxml2 calls lxml makes, the same check of the
    written text (lxml refuses control characters, U+FFFE/U+FFFF and surrogates:
    ValueError), without the str the text would be read into and the UTF-8 it would
    be encoded back to."""
    cdef tree.xmlNode* first = text_node_or_skip(el.next if tail else el.children)
    cdef tree.xmlNode* t = first
    cdef tree.xmlNode* following
    cdef tree.xmlNode* node
    buf.size = 0
    append_chars(buf, "\n")
    while t is not NULL:
        if t.content is not NULL:
            append_chars(buf, <const char*>t.content)
        t = text_node_or_skip(t.next)
    reserve(buf, 1)
    buf.data[buf.size] = 0
    if not valid_xml_utf8(<const unsigned char*>buf.data, buf.size):
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or"
            " control characters"
        )
    t = first  # lxml's _removeText
    while t is not NULL:
        following = text_node_or_skip(t.next)
        xml_unlink_node(t)
        xml_free_node(t)
        t = following
    node = xml_new_doc_text(el.doc, <const unsigned char*>buf.data)
    if node is NULL:
        raise MemoryError()
    if tail:
        xml_add_next_sibling(el, node)
    elif el.children is NULL:
        xml_add_child(el, node)
    else:
        xml_add_prev_sibling(el.children, node)
    return 0


cdef bint valid_xml_utf8(const unsigned char* s, Py_ssize_t n) noexcept nogil:
    """lxml's _is_valid_xml_utf8 (the check of every str written into the tree)."""
    cdef const unsigned char* end = s + n
    cdef unsigned long next3 = 0
    if s < end - 2:
        next3 = (s[0] << 8) | s[1]
    while s < end - 2:
        next3 = 0x00FFFFFF & ((next3 << 8) | s[2])
        if s[0] & 0x80:
            # U+FFFE, U+FFFF, and surrogates
            if next3 == 0x00EFBFBE or next3 == 0x00EFBFBF:
                return False
            if 0x00EDA080 <= next3 <= 0x00EDBFBF:
                return False
        elif not tree.xmlIsChar_ch(s[0]):
            return False
        s += 1
    while s < end:
        if not s[0] & 0x80 and not tree.xmlIsChar_ch(s[0]):
            return False
        s += 1
    return True


def hidden_blocks(
    doc, _Element root, list top, dict hidden_map, LinkDomains domains not None
):
    """What ``document._hidden_blocks`` does with the top-most hidden elements ``top``
    (``domains``: the page's link domains): each one's text, links and iframes read
    in one walk of its subtree, with no proxy made but for the links and iframes
    kept, then the element detached (its tail kept in place)."""
    cdef _Document pdoc = root._doc
    cdef tree.xmlNode* node
    cdef tree.xmlNode* c
    cdef tree.xmlAttr* a
    cdef int flags
    cdef bint exact
    cdef Chars text_nodes
    text_nodes.data = NULL
    text_nodes.size = text_nodes.cap = 0
    cdef list links = doc.links
    cdef list iframes = doc.iframes
    cdef list blocks = doc.hidden_blocks
    cdef list block_links
    cdef list block_iframes
    site = doc.site
    try:
        for el in top:
            node = (<_Element?>el)._c_node
            if el is not root and (node.parent is NULL or not _isElement(node.parent)):
                continue  # inside a stripped subtree (el.getparent() is None)
            block_links = []
            block_iframes = []
            text_nodes.size = 0
            exact = True
            c = node
            while True:
                if is_element(c):
                    flags = tag_flags(<const char*>c.name)
                    if flags & T_A:
                        a = find_attr(c, "href")
                        if a is not NULL and len(links) < max_links:
                            href = attr_value(c, a)
                            if href:
                                domain = domains.get(href)
                                link = Link(
                                    href,
                                    "",
                                    domain,
                                    bool(domain) and domain != site,
                                    True,
                                    elementFactory(pdoc, c),
                                )
                                links.append(link)
                                block_links.append(link)
                    elif flags & T_IFRAME:
                        block_iframes.append((elementFactory(pdoc, c), True))
                    if c.children is not NULL:
                        c = c.children
                        continue
                elif gather_text(&text_nodes, c):
                    exact = False
                c = next_in(c, node)
                if c is NULL:
                    break
            if not exact:
                text = text_of(el)
            elif text_nodes.size:
                text = PyUnicode_DecodeUTF8(text_nodes.data, text_nodes.size, NULL)
            else:
                text = ""
            iframes.extend(block_iframes)
            blocks.append(HiddenBlock(el, hidden_map[el], text, block_links))
            if el is not root:
                detach(pdoc, node, el)
    finally:
        free(text_nodes.data)


cdef int detach(_Document pdoc, tree.xmlNode* node, _Element el) except -1:
    """``document._detach(el)`` for an element with a parent element: removed, its
    tail appended to the previous sibling's tail or else to the parent's text."""
    cdef tree.xmlNode* parent = node.parent
    cdef tree.xmlNode* prev = node.prev
    tail = tailOf(node)
    if tail:
        while prev is not NULL and not _isElement(prev):  # el.getprevious()
            prev = prev.prev
        if prev is not NULL:
            setTailText(prev, (tailOf(prev) or "") + tail)
        else:
            setNodeText(parent, (textOf(parent) or "") + tail)
    elementFactory(pdoc, parent).remove(el)
    return 0


def strip(_Element root):
    """``etree.strip_elements(root, *document._SKIP, with_tail=False)``: the same
    elements removed (root's descendants, not root; tails stay in place) and freed
    unless a proxy still refers into them, as lxml does, without lxml's tag-matcher
    setup (about half of its time on a page)."""
    cdef tree.xmlNode* top = root._c_node
    cdef tree.xmlNode* c = top.children
    cdef tree.xmlNode* up
    cdef tree.xmlNode* after
    if not edits_in_c:
        etree.strip_elements(root, *SKIP_TAGS, with_tail=False)
        return
    while c is not NULL:
        if is_element(c):
            if tag_flags(<const char*>c.name) & T_SKIP:
                after = c.next
                up = c.parent
                xml_unlink_node(c)
                if not has_proxy(c):
                    xml_free_node(c)
                if after is not NULL:
                    c = after
                    continue
                c = up  # its children are done
            elif c.children is not NULL:
                c = c.children
                continue
        c = next_in(c, top)
        if c is NULL:
            break


cdef bint has_proxy(tree.xmlNode* top) noexcept nogil:
    """Whether an lxml proxy refers to ``top`` or any node inside it (lxml frees a
    removed subtree only when none does; the last proxy to go frees it then)."""
    cdef tree.xmlNode* c = top
    while True:
        if c._private is not NULL:
            return True
        if c.children is not NULL and c.type != tree.XML_ENTITY_REF_NODE:
            c = c.children
            continue
        c = next_in(c, top)
        if c is NULL:
            return False


def top_most(list ordered):
    """What ``document._top_most`` keeps of ``ordered`` (its elements sorted): those
    with none of their 64 nearest ancestors kept before them. Ancestors are read as
    node pointers, with no proxy made for each (iterancestors makes one a step)."""
    cdef set chosen = set()  # node addresses of the kept elements
    cdef list out = []
    cdef tree.xmlNode* p
    cdef int steps
    for el in ordered:
        p = (<_Element?>el)._c_node.parent
        steps = 0
        # iterancestors: parents while they are elements (or comments, PIs, entity
        # references, as lxml's _isElement has it), the document node ends them
        while chosen and p is not NULL and steps < 64 and (
            p.type == tree.XML_ELEMENT_NODE
            or p.type == tree.XML_COMMENT_NODE
            or p.type == tree.XML_ENTITY_REF_NODE
            or p.type == tree.XML_PI_NODE
        ):
            if <size_t>p in chosen:
                break
            p = p.parent
            steps += 1
        else:
            chosen.add(<size_t>(<_Element>el)._c_node)
            out.append(el)
    return out


cdef object newline_before(str text):
    """``"\\n" + text`` to write into the tree. lxml encodes a str to UTF-8 (a copy)
    and takes ASCII bytes as they are (refusing control characters alike), so ASCII
    text (most tails) is copied once, into bytes, instead of twice."""
    cdef Py_ssize_t n
    cdef char* buf
    if not PyUnicode_IS_ASCII(text):
        return "\n" + text
    n = PyUnicode_GET_LENGTH(text)
    out = PyBytes_FromStringAndSize(NULL, n + 1)
    buf = PyBytes_AS_STRING(out)
    buf[0] = c'\n'
    memcpy(buf + 1, PyUnicode_DATA(text), n)
    return out


cdef inline tree.xmlNode* text_node_or_skip(tree.xmlNode* c) noexcept nogil:
    """lxml's _textNodeOrSkip: ``c`` if a text node, past XInclude markers, else NULL."""
    while c is not NULL:
        if c.type == tree.XML_TEXT_NODE or c.type == tree.XML_CDATA_SECTION_NODE:
            return c
        if c.type != tree.XML_XINCLUDE_START and c.type != tree.XML_XINCLUDE_END:
            return NULL
        c = c.next
    return NULL


cdef inline bint is_host_char(unsigned int ch) noexcept nogil:
    """[A-Za-z0-9._-], the host characters of text._HTTP_HOST."""
    return (
        (c'a' <= ch <= c'z') or (c'A' <= ch <= c'Z') or (c'0' <= ch <= c'9')
        or ch == c'.' or ch == c'_' or ch == c'-'
    )


cdef inline bint ends_url(unsigned int ch) noexcept nogil:
    return ch == c'/' or ch == c'?' or ch == c'#'


@cython.final
cdef class LinkDomains:
    """``text.link_domain(url, href)`` for the hrefs of one page. The commonest shapes
    ("#...", "/path", "http(s)://host/...") are told here, without a Python call per
    href (and the lru_cache's key); each host's domain is looked up once. Every other
    href (leading/trailing whitespace, other schemes, userinfo...) goes to link_domain.
    """

    cdef object url
    cdef object base  # url_domain(url), once needed
    cdef dict hosts  # host as written -> registrable domain

    def __init__(self, url):
        self.url = url
        self.base = None
        self.hosts = {}

    cpdef object get(self, str href):
        """The domain of a non-empty href."""
        cdef int kind = PyUnicode_KIND(href)
        cdef const void* data = PyUnicode_DATA(href)
        cdef Py_ssize_t n = PyUnicode_GET_LENGTH(href), i, start, end
        cdef unsigned int first = char_at(kind, data, 0)
        if is_space(first) or is_space(char_at(kind, data, n - 1)):
            pass  # link_domain strips it first
        elif first == c'#':
            return ""
        elif first == c'/':
            if n == 1 or char_at(kind, data, 1) != c'/':
                if not self.url:
                    return ""
                for i in range(1, min(n, 12)):
                    if char_at(kind, data, i) == c':':
                        return ""
                if self.base is None:
                    self.base = link_domain(self.url, "/")  # url_domain(url)
                return self.base
        elif first == c'h':
            # text._HTTP_HOST: https?://([A-Za-z0-9._-]+)(?::[0-9]{0,5})?(?:[/?#]|$)
            start = end = http_prefix(kind, data, n)
            if start:
                while end < n and is_host_char(char_at(kind, data, end)):
                    end += 1
            if end > start:
                i = end
                if i < n and char_at(kind, data, i) == c':':
                    i += 1
                    while i < n and i <= end + 5 and c'0' <= char_at(kind, data, i) <= c'9':
                        i += 1
                if i == n or ends_url(char_at(kind, data, i)):
                    host = href[start:end]
                    domain = self.hosts.get(host)
                    if domain is None:
                        domain = self.hosts[host] = registrable_domain(host.lower())
                    return domain
        return link_domain(self.url, href)


cdef Py_ssize_t http_prefix(int kind, const void* data, Py_ssize_t n) noexcept nogil:
    """The length of a leading "http://" or "https://" (lower case), else 0."""
    cdef Py_ssize_t i = 4
    if n < 7 or not (
        char_at(kind, data, 0) == c'h'
        and char_at(kind, data, 1) == c't'
        and char_at(kind, data, 2) == c't'
        and char_at(kind, data, 3) == c'p'
    ):
        return 0
    if char_at(kind, data, 4) == c's':
        i = 5
    if i + 3 <= n and (
        char_at(kind, data, i) == c':'
        and char_at(kind, data, i + 1) == c'/'
        and char_at(kind, data, i + 2) == c'/'
    ):
        return i + 3
    return 0


cdef inline unsigned int ascii_lower(unsigned int ch) noexcept nogil:
    return ch | 0x20 if 0x41 <= ch <= 0x5A else ch


cdef bint end_tag_at(int kind, const void* data, Py_ssize_t n, Py_ssize_t i) noexcept nogil:
    """Whether ``</html\\s*>`` or ``</body\\s*>`` (any letter case) starts at ``i``,
    which holds a '<'. Under re.I no character but the ASCII pair matches these
    letters, and re's \\s in a str pattern is Py_UNICODE_ISSPACE."""
    cdef unsigned int a, b, c, d
    if i + 6 >= n or char_at(kind, data, i + 1) != c'/':
        return False
    a = ascii_lower(char_at(kind, data, i + 2))
    b = ascii_lower(char_at(kind, data, i + 3))
    c = ascii_lower(char_at(kind, data, i + 4))
    d = ascii_lower(char_at(kind, data, i + 5))
    if not (
        (a == c'h' and b == c't' and c == c'm' and d == c'l')
        or (a == c'b' and b == c'o' and c == c'd' and d == c'y')
    ):
        return False
    i += 6
    while i < n and is_space(char_at(kind, data, i)):
        i += 1
    return i < n and char_at(kind, data, i) == c'>'


def first_end_tag(str text):
    """``document._END_TAG_START.search(text)``'s start, or -1: the first </body> or
    </html>. The regex stops at every '<' of the page (~35 us a page); here memchr
    finds the '<' bytes (checked to be whole characters) of any string kind."""
    return find_end_tag(PyUnicode_KIND(text), PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text))


cdef Py_ssize_t find_end_tag(int kind, const void* data, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i = find_ascii(kind, data, n, 0, c'<')
    while i >= 0:
        if end_tag_at(kind, data, n, i):
            return i
        i = find_ascii(kind, data, n, i + 1, c'<')
    return -1


@cython.cdivision(True)
cdef Py_ssize_t find_ascii(
    int kind, const void* data, Py_ssize_t n, Py_ssize_t i, char ch
) noexcept nogil:
    """Index of the first ``ch`` (an ASCII character) at or after ``i``, or -1: memchr
    finds its byte, checked to be a whole character (not a byte of a wider one)."""
    cdef const char* start = <const char*>data
    cdef const char* end = start + n * kind
    cdef const char* p = start + i * kind
    cdef const char* hit
    while p < end:
        hit = <const char*>memchr(p, ch, end - p)
        if hit is NULL:
            break
        i = (hit - start) // kind
        if char_at(kind, data, i) == <unsigned char>ch:
            return i
        p = hit + 1
    return -1


def has_comment(str css):
    """``"/*" in css``: str's two-character search takes ~1 ns a character on
    stylesheets (its skip filter confuses '/' and '*' with 'o' and 'j'), memchr for
    '/' much less."""
    cdef int kind = PyUnicode_KIND(css)
    cdef const void* data = PyUnicode_DATA(css)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(css)
    cdef Py_ssize_t i = find_ascii(kind, data, n, 0, c'/')
    while i >= 0 and i + 1 < n:
        if char_at(kind, data, i + 1) == c'*':
            return True
        i = find_ascii(kind, data, n, i + 1, c'/')
    return False


cdef inline bint css_space(unsigned char c) noexcept nogil:
    """An ASCII character str's \\s matches (css._ASCII_WS)."""
    return 9 <= c <= 13 or 28 <= c <= 32


cdef Py_ssize_t size_anchor_end(const unsigned char* q, const unsigned char* end) noexcept nogil:
    """Length of the font-size anchor (css._HINTS[5]) that starts with the "size" just
    before ``q``: "size" + space, "size:" + 0, '.' or space, "size:" + 1 or 2 + one of
    ".per;}!" or space; 0 when none does."""
    if q >= end:
        return 0
    if css_space(q[0]):
        return 5
    if q[0] != c':' or q + 1 >= end:
        return 0
    if q[1] == c'0' or q[1] == c'.' or css_space(q[1]):
        return 6
    if (q[1] == c'1' or q[1] == c'2') and q + 2 < end:
        if css_space(q[2]) or memchr(".per;}!", q[2], 7) is not NULL:
            return 7
    return 0


def font_size_anchors(bytes data):
    """What css's font-size anchor automaton finds in a lowercased stylesheet's UTF-8,
    as (0, start, end) triples: every "size" with an anchor's tail (two never overlap,
    so leftmost-first takes each). 'z' is rare in CSS but for "size" and "z-index":
    memchr for it takes ~2.9 us on the bench pages' stylesheets, the automaton ~5 us."""
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef const unsigned char* end = s + len(data)
    cdef const unsigned char* p = s + 2  # a "size" 'z' has two characters before it
    cdef const unsigned char* w  # the "size" candidate
    cdef Py_ssize_t length
    cdef list out = []
    while p < end:
        w = <const unsigned char*>memchr(p, c'z', end - p)
        if w is NULL:
            break
        p = w + 1
        w -= 2
        if w[0] == c's' and w[1] == c'i' and p < end and w[3] == c'e':
            length = size_anchor_end(w + 4, end)
            if length:
                out.append((0, w - s, w - s + length))
    return out



cdef enum:
    BLOCK_CHARS = 256  # characters tested branch-free between early-exit checks


cdef inline unsigned int bad_low(unsigned int ch) noexcept nogil:
    """1 for C0 controls other than tab, LF and CR."""
    return (ch < 0x20) & (ch != 0x09) & (ch != 0x0A) & (ch != 0x0D)


def has_non_xml(str text):
    """``document._NON_XML.search(text) is not None`` (C0 controls but tab/LF/CR, lone
    surrogates, U+FFFE/U+FFFF): re takes ~3 us a KB, this a vectorisable C pass. Every
    page that arrives as str (rendered ones, script-written HTML) is checked."""
    cdef int kind = PyUnicode_KIND(text)
    cdef const void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i, j, stop
    cdef const unsigned char* s1 = <const unsigned char*>data
    cdef const uint16_t* s2 = <const uint16_t*>data
    cdef const uint32_t* s4 = <const uint32_t*>data
    cdef unsigned int found
    i = 0
    while i < n:
        stop = min(i + BLOCK_CHARS, n)
        found = 0
        if kind == 1:
            for j in range(i, stop):
                found |= bad_low(s1[j])
        elif kind == 2:
            for j in range(i, stop):
                found |= bad_low(s2[j]) | ((s2[j] & 0xF800) == 0xD800) | (s2[j] >= 0xFFFE)
        else:
            for j in range(i, stop):
                found |= (
                    bad_low(s4[j])
                    # a C-typed mask: a bare 0xFFFFF800 exceeds a C int, so Cython
                    # would do this test with Python ints, character by character
                    | ((s4[j] & <uint32_t>0xFFFFF800) == 0xD800)
                    | (s4[j] == 0xFFFE)
                    | (s4[j] == 0xFFFF)
                )
        if found:
            return True
        i = stop
    return False


cdef extern from "Python.h":
    object PyUnicode_New(Py_ssize_t size, unsigned int maxchar)


def lower_ascii(str text):
    """``text.lower()`` of an ASCII str (css.py lowercases whole stylesheets): str.lower
    maps one byte at a time through a table (~0.3 ns a byte), this loop is vectorised."""
    if not PyUnicode_IS_ASCII(text):
        raise ValueError("not ASCII")
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), i
    out = PyUnicode_New(n, 127)
    cdef const unsigned char* src = <const unsigned char*>PyUnicode_DATA(text)
    cdef unsigned char* dst = <unsigned char*>PyUnicode_DATA(out)
    cdef unsigned char ch
    for i in range(n):
        ch = src[i]
        dst[i] = ch + 32 if <unsigned char>(ch - 65) < 26 else ch
    return out
