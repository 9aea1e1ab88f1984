//! A seeded corpus of dialled strings anyone can regenerate: the same seed
//! gives the same strings on every machine (a fixed xorshift generator, no
//! dependency). The mix is what a switch sees: mostly NANP in assorted
//! formats, some toll-free, Caribbean, toll, international (E.164, `011`,
//! `00`), `tel:` URIs, short codes, extensions and junk.

/// The seed the benches use.
pub const SEED: u64 = 0x5eed_c1a5_51f1;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn digits(&mut self, n: usize, out: &mut String) {
        for _ in 0..n {
            out.push(char::from(b'0' + self.below(10) as u8));
        }
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// `count` dialled strings from `seed`.
pub fn dialled(seed: u64, count: usize) -> Vec<String> {
    let mut rng = Rng(seed | 1);
    (0..count).map(|_| one(&mut rng)).collect()
}

fn one(rng: &mut Rng) -> String {
    let mut s = String::with_capacity(24);
    let npa = match rng.below(10) {
        0 => rng.pick(&["800", "888", "877", "866", "844"]).to_string(),
        1 => rng.pick(&["876", "787", "809", "340", "900"]).to_string(),
        _ => format!("{}{:02}", 2 + rng.below(8), rng.below(100)),
    };
    let nxx = format!("{}{:02}", 2 + rng.below(8), rng.below(100));
    let mut line = String::new();
    rng.digits(4, &mut line);
    match rng.below(20) {
        0..=3 => s.push_str(&format!("{npa}{nxx}{line}")),
        4..=5 => s.push_str(&format!("({npa}) {nxx}-{line}")),
        6..=8 => s.push_str(&format!("+1{npa}{nxx}{line}")),
        9 => s.push_str(&format!("1-{npa}-{nxx}-{line}")),
        10 => s.push_str(&format!("{npa}.{nxx}.{line}")),
        11 => s.push_str(&format!("tel:+1-{npa}-{nxx}-{line};ext=1")),
        12 => s.push_str(&format!("{npa}/{nxx}\t{line}")),
        13..=14 => {
            s.push_str(rng.pick(&["+44", "+33", "+49", "+61", "+86"]));
            let n = 8 + rng.below(4) as usize;
            rng.digits(n, &mut s);
        }
        15 => {
            s.push_str(rng.pick(&["011 44 ", "0049", "011"]));
            rng.digits(9, &mut s);
        }
        16 => s.push_str(rng.pick(&["911", "999", "711", "*97", "1000", "2001", "12345"])),
        17 => s.push_str(rng.pick(&["john.doe", "+141510010+15", "٤١٥٥٥٥١٢٣٤", ""])),
        _ => s.push_str(&format!("1{npa}{nxx}{line}")),
    }
    s
}
