//! Type 1 font programs (`/FontFile`) written anew by [`rebuild`]: the
//! clear text is read for its font name, paint type, matrix, bounding box
//! and encoding only (any other PostScript in it is not kept), the
//! `eexec` part is decrypted and its Private dictionary read for the hint
//! values, `Subrs` and `CharStrings`; every glyph's charstring is
//! decrypted and run by a bounded interpreter (operand stack of 48,
//! subroutines nested 10 deep, a step limit); a glyph that does not run is
//! written as an empty glyph. The program is then written from those
//! values: a clear text of plain definitions, a Private part of plain
//! definitions with the charstrings encrypted anew (fixed seeds, so the
//! output is the same each time), and the standard trailer.

/// Most operands on the charstring stack.
const MAX_STACK: usize = 48;
/// Deepest subroutine nesting.
const MAX_DEPTH: usize = 10;
/// Most operators one glyph may run.
const MAX_STEPS: usize = 20_000;
/// Most glyphs or subroutines.
const MAX_ITEMS: usize = 65_535;

const EEXEC_KEY: u16 = 55665;
const CHARSTRING_KEY: u16 = 4330;

fn decrypt(data: &[u8], key: u16) -> Vec<u8> {
    let mut r = key;
    data.iter()
        .map(|&c| {
            let p = c ^ (r >> 8) as u8;
            r = (u16::from(c).wrapping_add(r))
                .wrapping_mul(52845)
                .wrapping_add(22719);
            p
        })
        .collect()
}

fn encrypt(plain: &[u8], key: u16) -> Vec<u8> {
    let mut r = key;
    plain
        .iter()
        .map(|&p| {
            let c = p ^ (r >> 8) as u8;
            r = (u16::from(c).wrapping_add(r))
                .wrapping_mul(52845)
                .wrapping_add(22719);
            c
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    /// A literal name (`/Name`), without the slash.
    Name(&'a [u8]),
    /// A number, operator or bracket.
    Word(&'a [u8]),
}

struct Lexer<'a> {
    d: &'a [u8],
    at: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | 0)
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Option<Tok<'a>> {
        loop {
            while self.at < self.d.len() && is_space(self.d[self.at]) {
                self.at += 1;
            }
            let b = *self.d.get(self.at)?;
            match b {
                b'%' => {
                    while self.at < self.d.len() && !matches!(self.d[self.at], b'\r' | b'\n') {
                        self.at += 1;
                    }
                }
                b'(' => {
                    // A string: skipped (nothing kept is a string).
                    let mut depth = 0;
                    while self.at < self.d.len() {
                        match self.d[self.at] {
                            b'\\' => self.at += 1,
                            b'(' => depth += 1,
                            b')' => {
                                depth -= 1;
                                if depth == 0 {
                                    self.at += 1;
                                    break;
                                }
                            }
                            _ => {}
                        }
                        self.at += 1;
                    }
                    return Some(Tok::Word(b"(string)"));
                }
                b'<' | b'>' => {
                    let start = self.at;
                    while self.at < self.d.len() && self.d[self.at] != b'>' {
                        self.at += 1;
                    }
                    self.at += 1;
                    return Some(Tok::Word(&self.d[start..self.at.min(self.d.len())]));
                }
                b'[' | b']' | b'{' | b'}' | b')' => {
                    self.at += 1;
                    return Some(Tok::Word(&self.d[self.at - 1..self.at]));
                }
                _ => {
                    let slash = b == b'/';
                    if slash {
                        self.at += 1;
                    }
                    let start = self.at;
                    while self.at < self.d.len()
                        && !is_space(self.d[self.at])
                        && !is_delim(self.d[self.at])
                    {
                        self.at += 1;
                    }
                    let w = &self.d[start..self.at];
                    return Some(if slash { Tok::Name(w) } else { Tok::Word(w) });
                }
            }
        }
    }

    fn word(&mut self) -> Result<&'a [u8], String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            _ => Err("a word expected".into()),
        }
    }

    fn int(&mut self) -> Result<usize, String> {
        let w = self.word()?;
        std::str::from_utf8(w)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("a count expected, found {}", String::from_utf8_lossy(w)))
    }

    /// `n` bytes after the single space that follows an `RD` token.
    fn binary(&mut self, n: usize) -> Result<&'a [u8], String> {
        let start = self.at + 1;
        let b = start
            .checked_add(n)
            .and_then(|end| self.d.get(start..end))
            .ok_or("a charstring runs past the end")?;
        self.at = start + n;
        Ok(b)
    }
}

fn is_number(w: &[u8]) -> bool {
    let s = std::str::from_utf8(w).unwrap_or("");
    !s.is_empty() && s.len() <= 24 && s.parse::<f64>().is_ok_and(f64::is_finite)
}

fn is_ps_name(w: &[u8]) -> bool {
    !w.is_empty() && w.len() <= 127 && w.iter().all(|&b| b.is_ascii_graphic() && !is_delim(b))
}

/// A value of a kept key: numbers (a number, or an array or procedure of
/// numbers) or a boolean, as text.
fn value(lx: &mut Lexer) -> Result<String, String> {
    match lx.next() {
        Some(Tok::Word(w)) if is_number(w) || w == b"true" || w == b"false" => {
            Ok(String::from_utf8_lossy(w).into_owned())
        }
        Some(Tok::Word(open @ (b"[" | b"{"))) => {
            let close: &[u8] = if open == b"[" { b"]" } else { b"}" };
            let mut nums = Vec::new();
            loop {
                match lx.next() {
                    Some(Tok::Word(w)) if w == close => break,
                    Some(Tok::Word(w)) if is_number(w) && nums.len() < 64 => {
                        nums.push(String::from_utf8_lossy(w).into_owned())
                    }
                    _ => return Err("an array of something else than numbers".into()),
                }
            }
            Ok(format!("[{}]", nums.join(" ")))
        }
        _ => Err("a value that is not a number".into()),
    }
}

#[derive(Default)]
struct Font {
    name: Vec<u8>,
    paint_type: Option<String>,
    matrix: Option<String>,
    bbox: Option<String>,
    /// `None`: StandardEncoding.
    encoding: Option<Vec<(usize, Vec<u8>)>>,
    private: Vec<(&'static str, String)>,
    len_iv: i32,
    subrs: Vec<Vec<u8>>,
    glyphs: Vec<(Vec<u8>, Vec<u8>)>,
}

const PRIVATE_KEPT: &[&str] = &[
    "BlueValues",
    "OtherBlues",
    "FamilyBlues",
    "FamilyOtherBlues",
    "BlueScale",
    "BlueShift",
    "BlueFuzz",
    "StdHW",
    "StdVW",
    "StemSnapH",
    "StemSnapV",
    "ForceBold",
    "LanguageGroup",
];

fn read_clear(clear: &[u8], font: &mut Font) -> Result<(), String> {
    let mut lx = Lexer { d: clear, at: 0 };
    while let Some(t) = lx.next() {
        let Tok::Name(k) = t else { continue };
        match k {
            b"FontName" if font.name.is_empty() => match lx.next() {
                Some(Tok::Name(n)) if is_ps_name(n) => font.name = n.to_vec(),
                _ => return Err("a bad /FontName".into()),
            },
            b"PaintType" if font.paint_type.is_none() => {
                let v = value(&mut lx)?;
                if v != "0" && v != "2" {
                    return Err("a bad /PaintType".into());
                }
                font.paint_type = Some(v);
            }
            b"FontMatrix" if font.matrix.is_none() => font.matrix = Some(value(&mut lx)?),
            b"FontBBox" if font.bbox.is_none() => font.bbox = Some(value(&mut lx)?),
            b"Encoding" => {
                let mut codes = Vec::new();
                match lx.word()? {
                    b"StandardEncoding" => {
                        font.encoding = None;
                        continue;
                    }
                    w if is_number(w) => {}
                    _ => return Err("an /Encoding that is not an array".into()),
                }
                let mut depth = 0usize;
                loop {
                    match lx.next() {
                        None => return Err("an /Encoding without an end".into()),
                        Some(Tok::Word(b"{")) => depth += 1,
                        Some(Tok::Word(b"}")) => depth = depth.saturating_sub(1),
                        Some(Tok::Word(b"dup")) if depth == 0 => {
                            let code = lx.int()?;
                            let Some(Tok::Name(n)) = lx.next() else {
                                return Err("an /Encoding entry without a name".into());
                            };
                            if code > 255 || !is_ps_name(n) || lx.word()? != b"put" {
                                return Err("a bad /Encoding entry".into());
                            }
                            codes.retain(|(c, _)| *c != code);
                            codes.push((code, n.to_vec()));
                        }
                        Some(Tok::Word(b"def" | b"readonly")) if depth == 0 => break,
                        Some(_) => {}
                    }
                }
                codes.sort();
                font.encoding = Some(codes);
            }
            _ => {}
        }
    }
    if font.name.is_empty() {
        return Err("no /FontName".into());
    }
    Ok(())
}

fn read_private(p: &[u8], font: &mut Font) -> Result<(), String> {
    let mut lx = Lexer { d: p, at: 0 };
    font.len_iv = 4;
    while let Some(t) = lx.next() {
        let k = match t {
            Tok::Name(k) => k,
            Tok::Word(b"closefile") => break,
            Tok::Word(_) => continue,
        };
        match k {
            b"lenIV" => {
                let v = value(&mut lx)?;
                font.len_iv = v.parse().map_err(|_| "a bad /lenIV")?;
                if !(-1..=16).contains(&font.len_iv) {
                    return Err("a bad /lenIV".into());
                }
            }
            b"Subrs" if font.subrs.is_empty() => {
                let n = lx.int()?;
                if n > MAX_ITEMS || lx.word()? != b"array" {
                    return Err("a bad /Subrs".into());
                }
                font.subrs = vec![Vec::new(); n];
                for _ in 0..n {
                    let save = lx.at;
                    if lx.next() != Some(Tok::Word(&b"dup"[..])) {
                        lx.at = save;
                        break;
                    }
                    let i = lx.int()?;
                    let len = lx.int()?;
                    lx.word()?; // RD or -|
                    let b = lx.binary(len)?.to_vec();
                    *font.subrs.get_mut(i).ok_or("a subroutine out of range")? = b;
                    // NP, |, or noaccess put
                    if lx.word()? == b"noaccess" {
                        lx.word()?;
                    }
                }
            }
            b"CharStrings" => {
                let n = lx.int()?;
                if n > MAX_ITEMS {
                    return Err("too many glyphs".into());
                }
                loop {
                    match lx.next() {
                        Some(Tok::Name(g)) => {
                            if !is_ps_name(g) {
                                return Err("a bad glyph name".into());
                            }
                            let len = lx.int()?;
                            lx.word()?;
                            let b = lx.binary(len)?.to_vec();
                            if lx.word()? == b"noaccess" {
                                lx.word()?;
                            }
                            if font.glyphs.len() >= MAX_ITEMS {
                                return Err("too many glyphs".into());
                            }
                            if !font.glyphs.iter().any(|(n, _)| n == g) {
                                font.glyphs.push((g.to_vec(), b));
                            }
                        }
                        Some(Tok::Word(b"end")) | None => break,
                        Some(Tok::Word(b"closefile")) => {
                            return Err("/CharStrings without an end".into())
                        }
                        Some(_) => {}
                    }
                }
            }
            k => {
                if let Some(key) = PRIVATE_KEPT.iter().find(|x| x.as_bytes() == k) {
                    if !font.private.iter().any(|(x, _)| x == key) {
                        if let Ok(v) = value(&mut lx) {
                            font.private.push((key, v));
                        }
                    }
                }
            }
        }
    }
    if font.glyphs.is_empty() {
        return Err("no /CharStrings".into());
    }
    Ok(())
}

/// A charstring with its encryption and `lenIV` bytes undone.
fn plain_charstring(b: &[u8], len_iv: i32) -> Result<Vec<u8>, String> {
    if len_iv < 0 {
        return Ok(b.to_vec());
    }
    let d = decrypt(b, CHARSTRING_KEY);
    d.get(len_iv as usize..)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "a charstring shorter than lenIV".into())
}

/// Runs a Type 1 charstring, bounded; `Ok` when it ends with `endchar`
/// (or `seac`) and every operator had its operands.
fn run(cs: &[u8], subrs: &[Vec<u8>]) -> Result<(), String> {
    struct St {
        stack: Vec<f64>,
        ps: Vec<f64>,
        steps: usize,
    }
    fn go(cs: &[u8], subrs: &[Vec<u8>], st: &mut St, depth: usize) -> Result<bool, String> {
        if depth > MAX_DEPTH {
            return Err("subroutines nested too deep".into());
        }
        let mut i = 0;
        let need = |st: &St, n: usize| {
            if st.stack.len() < n {
                Err("an operator without its operands".to_string())
            } else {
                Ok(())
            }
        };
        while i < cs.len() {
            st.steps += 1;
            if st.steps > MAX_STEPS {
                return Err("a charstring that runs too long".into());
            }
            let v = cs[i];
            i += 1;
            if v >= 32 {
                let n = match v {
                    32..=246 => i32::from(v) - 139,
                    247..=250 => {
                        let w = i32::from(*cs.get(i).ok_or("cut short")?);
                        i += 1;
                        (i32::from(v) - 247) * 256 + w + 108
                    }
                    251..=254 => {
                        let w = i32::from(*cs.get(i).ok_or("cut short")?);
                        i += 1;
                        -(i32::from(v) - 251) * 256 - w - 108
                    }
                    _ => {
                        let b = cs.get(i..i + 4).ok_or("cut short")?;
                        i += 4;
                        i32::from_be_bytes([b[0], b[1], b[2], b[3]])
                    }
                };
                if st.stack.len() >= MAX_STACK {
                    return Err("the operand stack overflows".into());
                }
                st.stack.push(f64::from(n));
                continue;
            }
            let op = if v == 12 {
                let x = *cs.get(i).ok_or("cut short")?;
                i += 1;
                1200 + u16::from(x)
            } else {
                u16::from(v)
            };
            let takes = |n: usize, st: &mut St| -> Result<(), String> {
                need(st, n)?;
                st.stack.clear();
                Ok(())
            };
            match op {
                14 => return Ok(true), // endchar
                1206 => {
                    takes(5, st)?; // seac
                    return Ok(true);
                }
                13 => takes(2, st)?,                    // hsbw
                1207 => takes(4, st)?,                  // sbw
                9 | 1200 => st.stack.clear(),           // closepath, dotsection
                6 | 7 | 22 | 4 => takes(1, st)?,        // hlineto vlineto hmoveto vmoveto
                5 | 21 | 1 | 3 | 1233 => takes(2, st)?, // rlineto rmoveto hstem vstem setcurrentpoint
                8 => takes(6, st)?,                     // rrcurveto
                30 | 31 => takes(4, st)?,               // vhcurveto hvcurveto
                1201 | 1202 => takes(6, st)?,           // vstem3 hstem3
                1212 => {
                    // div
                    need(st, 2)?;
                    let b = st.stack.pop().unwrap_or(1.0);
                    let a = st.stack.pop().unwrap_or(0.0);
                    st.stack.push(if b == 0.0 { 0.0 } else { a / b });
                }
                1216 => {
                    // callothersubr: othersubr# and its arguments go to
                    // the PostScript stack (flex and hint replacement).
                    need(st, 2)?;
                    st.stack.pop();
                    let n = st.stack.pop().unwrap_or(0.0);
                    if !(0.0..=16.0).contains(&n) || n as usize > st.stack.len() {
                        return Err("callothersubr without its arguments".into());
                    }
                    for _ in 0..n as usize {
                        let x = st.stack.pop().unwrap_or(0.0);
                        st.ps.push(x);
                    }
                }
                1217 => {
                    // pop
                    let x = st.ps.pop().unwrap_or(0.0);
                    if st.stack.len() >= MAX_STACK {
                        return Err("the operand stack overflows".into());
                    }
                    st.stack.push(x);
                }
                10 => {
                    // callsubr
                    let n = st.stack.pop().ok_or("callsubr without an index")?;
                    let s = (n >= 0.0)
                        .then(|| subrs.get(n as usize))
                        .flatten()
                        .ok_or("callsubr to a subroutine that does not exist")?;
                    if go(s, subrs, st, depth + 1)? {
                        return Ok(true);
                    }
                }
                11 => {
                    if depth == 0 {
                        return Err("return outside a subroutine".into());
                    }
                    return Ok(false);
                }
                _ => return Err(format!("an unknown operator {op}")),
            }
        }
        if depth == 0 {
            Err("a charstring without endchar".into())
        } else {
            Ok(false)
        }
    }
    let mut st = St {
        stack: Vec::new(),
        ps: Vec::new(),
        steps: 0,
    };
    if go(cs, subrs, &mut st, 0)? {
        Ok(())
    } else {
        Err("a charstring without endchar".into())
    }
}

/// The clear text and the encrypted part of a program (flat or PFB).
fn split(data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let flat: Vec<u8>;
    let data = if data.first() == Some(&0x80) {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 2 <= data.len() && data[at] == 0x80 && data[at + 1] != 3 {
            let len = data
                .get(at + 2..at + 6)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or("a cut PFB segment")?;
            out.extend_from_slice(data.get(at + 6..at + 6 + len).ok_or("a cut PFB segment")?);
            at += 6 + len;
        }
        flat = out;
        &flat[..]
    } else {
        data
    };
    if !(data.starts_with(b"%!PS-AdobeFont") || data.starts_with(b"%!FontType1")) {
        return Err("no %!PS-AdobeFont header".into());
    }
    let at = data
        .windows(5)
        .position(|w| w == b"eexec")
        .ok_or("no eexec part")?
        + 5;
    let rest = if data[at..].starts_with(b"\r\n") {
        at + 2
    } else if data.get(at).is_some_and(|&b| is_space(b)) {
        at + 1
    } else {
        at
    };
    let enc = &data[rest..];
    let hex = enc.len() >= 4 && enc[..4].iter().all(u8::is_ascii_hexdigit);
    let enc = if hex {
        let digits: Vec<u8> = enc
            .iter()
            .take_while(|b| b.is_ascii_hexdigit() || is_space(**b))
            .filter(|b| b.is_ascii_hexdigit())
            .copied()
            .collect();
        digits
            .chunks(2)
            .map(|p| {
                let s = std::str::from_utf8(p).unwrap_or("0");
                u8::from_str_radix(s, 16).unwrap_or(0)
            })
            .collect()
    } else {
        enc.to_vec()
    };
    Ok((data[..at].to_vec(), enc))
}

/// Rewrites a Type 1 program; returns it with its `/Length1`, `/Length2`
/// and `/Length3`.
pub fn rebuild(data: &[u8]) -> Result<(Vec<u8>, [usize; 3]), String> {
    let (clear, enc) = split(data)?;
    let mut font = Font::default();
    read_clear(&clear, &mut font)?;
    let private = decrypt(&enc, EEXEC_KEY);
    read_private(private.get(4..).unwrap_or_default(), &mut font)?;
    let subrs: Vec<Vec<u8>> = font
        .subrs
        .iter()
        .map(|s| plain_charstring(s, font.len_iv))
        .collect::<Result<_, _>>()?;
    let glyphs: Vec<(Vec<u8>, Vec<u8>)> = font
        .glyphs
        .iter()
        .map(|(n, cs)| {
            let plain = plain_charstring(cs, font.len_iv)
                .ok()
                .filter(|p| run(p, &subrs).is_ok())
                // An empty glyph: 0 0 hsbw endchar.
                .unwrap_or_else(|| vec![139, 139, 13, 14]);
            (n.clone(), plain)
        })
        .collect();
    if !glyphs.iter().any(|(n, _)| n == b".notdef") {
        return Err("no /.notdef glyph".into());
    }

    let name = String::from_utf8_lossy(&font.name).into_owned();
    let mut c = format!(
        "%!PS-AdobeFont-1.0: {name}\n12 dict begin\n/FontName /{name} def\n/FontType 1 def\n"
    );
    c += &format!(
        "/PaintType {} def\n",
        font.paint_type.as_deref().unwrap_or("0")
    );
    c += &format!(
        "/FontMatrix {} readonly def\n",
        font.matrix.as_deref().unwrap_or("[0.001 0 0 0.001 0 0]")
    );
    c += &format!(
        "/FontBBox {{{}}} readonly def\n",
        font.bbox
            .as_deref()
            .unwrap_or("[0 0 0 0]")
            .trim_matches(['[', ']'])
    );
    match &font.encoding {
        None => c += "/Encoding StandardEncoding def\n",
        Some(codes) => {
            c += "/Encoding 256 array\n0 1 255 {1 index exch /.notdef put} for\n";
            for (code, n) in codes {
                c += &format!("dup {code} /{} put\n", String::from_utf8_lossy(n));
            }
            c += "readonly def\n";
        }
    }
    c += "currentdict end\ncurrentfile eexec\n";

    let mut p: Vec<u8> = vec![0, 0, 0, 0];
    p.extend_from_slice(
        b"dup /Private 16 dict dup begin\n/RD{string currentfile exch readstring pop}executeonly def\n\
/ND{noaccess def}executeonly def\n/NP{noaccess put}executeonly def\n/MinFeature{16 16}def\n/password 5839 def\n/lenIV 4 def\n",
    );
    for (k, v) in &font.private {
        p.extend_from_slice(format!("/{k} {v} def\n").as_bytes());
    }
    let charstring = |plain: &[u8]| {
        let mut b = vec![0u8; 4];
        b.extend_from_slice(plain);
        encrypt(&b, CHARSTRING_KEY)
    };
    p.extend_from_slice(format!("/Subrs {} array\n", subrs.len()).as_bytes());
    for (i, s) in subrs.iter().enumerate() {
        let e = charstring(s);
        p.extend_from_slice(format!("dup {i} {} RD ", e.len()).as_bytes());
        p.extend_from_slice(&e);
        p.extend_from_slice(b" NP\n");
    }
    p.extend_from_slice(b"ND\n");
    p.extend_from_slice(
        format!("2 index /CharStrings {} dict dup begin\n", glyphs.len()).as_bytes(),
    );
    for (n, cs) in &glyphs {
        let e = charstring(cs);
        p.extend_from_slice(b"/");
        p.extend_from_slice(n);
        p.extend_from_slice(format!(" {} RD ", e.len()).as_bytes());
        p.extend_from_slice(&e);
        p.extend_from_slice(b" ND\n");
    }
    p.extend_from_slice(
        b"end\nend\nreadonly put\nnoaccess put\ndup /FontName get exch definefont pop\nmark currentfile closefile\n",
    );
    let enc = encrypt(&p, EEXEC_KEY);
    let mut trailer = String::new();
    for _ in 0..8 {
        trailer += &"0".repeat(64);
        trailer += "\n";
    }
    trailer += "cleartomark\n";
    let lengths = [c.len(), enc.len(), trailer.len()];
    let mut out = c.into_bytes();
    out.extend_from_slice(&enc);
    out.extend_from_slice(trailer.as_bytes());
    Ok((out, lengths))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(glyph: &[u8], extra_clear: &str) -> Vec<u8> {
        let cs = |plain: &[u8]| {
            let mut b = vec![1, 2, 3, 4];
            b.extend_from_slice(plain);
            encrypt(&b, CHARSTRING_KEY)
        };
        let mut clear = format!(
            "%!PS-AdobeFont-1.0: Test\n{extra_clear}\n10 dict begin\n/FontName /Test def\n/FontMatrix [0.001 0 0 0.001 0 0] readonly def\n\
/FontBBox {{0 0 500 700}} readonly def\n/Encoding 256 array\n0 1 255 {{1 index exch /.notdef put}} for\ndup 65 /A put\nreadonly def\n\
/FontInfo 3 dict dup begin (Copyright) readonly end\ncurrentdict end\ncurrentfile eexec\n"
        )
        .into_bytes();
        let mut p = b"junk/Private 8 dict dup begin /RD{string currentfile exch readstring pop}executeonly def\n\
/BlueValues [-10 0 700 710] def /OtherSubrs [{systemdict /quit get exec}] def /lenIV 4 def\n/Subrs 1 array\n"
            .to_vec();
        // Subr 0: a line, then return.
        let s0 = cs(&[139 + 50, 139, 5, 11]);
        p.extend_from_slice(format!("dup 0 {} RD ", s0.len()).as_bytes());
        p.extend_from_slice(&s0);
        p.extend_from_slice(b" NP\n/CharStrings 2 dict dup begin\n");
        for (n, g) in [(".notdef", &[139u8, 139, 13, 14][..]), ("A", glyph)] {
            let e = cs(g);
            p.extend_from_slice(format!("/{n} {} RD ", e.len()).as_bytes());
            p.extend_from_slice(&e);
            p.extend_from_slice(b" ND\n");
        }
        p.extend_from_slice(b"end end\nmark currentfile closefile\n");
        clear.extend_from_slice(&encrypt(&p, EEXEC_KEY));
        clear.extend_from_slice(b"\n0000000000\ncleartomark\n");
        clear
    }

    #[test]
    fn type1_rewritten_without_its_postscript() {
        // 0 500 hsbw, 0 0 rmoveto, 139 callsubr(0), closepath, endchar
        let glyph = [139, 247, 136, 13, 139, 139, 21, 139, 10, 9, 14];
        let input = program(&glyph, "systemdict /quit get exec");
        let (out, [l1, l2, l3]) = rebuild(&input).unwrap();
        assert_eq!(l1 + l2 + l3, out.len());
        let clear = String::from_utf8_lossy(&out[..l1]);
        assert!(clear.contains("/FontName /Test def") && clear.contains("dup 65 /A put"));
        assert!(
            !clear.contains("quit") && !clear.contains("FontInfo"),
            "{clear}"
        );
        let private = decrypt(&out[l1..l1 + l2], EEXEC_KEY);
        let text = String::from_utf8_lossy(&private);
        assert!(text.contains("/BlueValues [-10 0 700 710] def"));
        assert!(!text.contains("OtherSubrs") && !text.contains("quit"));
        // The glyph survives, decrypted to the same charstring.
        let mut f = Font::default();
        read_private(&private[4..], &mut f).unwrap();
        let a = &f.glyphs.iter().find(|(n, _)| n == b"A").unwrap().1;
        assert_eq!(plain_charstring(a, 4).unwrap(), glyph);
        // Canonical.
        assert_eq!(rebuild(&out).unwrap().0, out);
    }

    #[test]
    fn bad_charstrings_become_empty_glyphs() {
        let mut deep = vec![139, 139, 13];
        deep.extend(std::iter::repeat_n(139, 60));
        deep.push(14);
        for bad in [
            vec![139, 139, 13, 139 + 5, 10, 14], // a subroutine that does not exist
            vec![139, 139, 13, 139, 10],         // no endchar
            deep,                                // the operand stack overflows
        ] {
            let bad = &bad[..];
            assert!(run(bad, &[vec![139, 139, 5, 11]]).is_err());
            let (out, [l1, l2, _]) = rebuild(&program(bad, "")).unwrap();
            let private = decrypt(&out[l1..l1 + l2], EEXEC_KEY);
            let mut f = Font::default();
            read_private(&private[4..], &mut f).unwrap();
            let a = &f.glyphs.iter().find(|(n, _)| n == b"A").unwrap().1;
            assert_eq!(plain_charstring(a, 4).unwrap(), [139, 139, 13, 14]);
        }
        // A subroutine that calls itself is stopped.
        assert!(run(&[139, 10, 14], &[vec![139, 10, 11]]).is_err());
        assert!(rebuild(b"%!PS-AdobeFont-1.0: X\n/FontName /X def\ncurrentfile eexec\n").is_err());
    }
}
