//! ICC profiles: only a plain, well-formed profile that fits the output's
//! colour model is re-embedded.

use image::ColorType;
use mugai_core::Reader;

/// Profiles larger than this are not plain colour profiles.
const MAX_PROFILE: usize = 4 << 20;

/// `Ok` when `p` is a well-formed ICC profile for pixels of type `color`;
/// otherwise why it is dropped.
pub fn check(p: &[u8], color: ColorType) -> Result<(), String> {
    if p.len() > MAX_PROFILE {
        return Err(format!("{} bytes is over {MAX_PROFILE}", p.len()));
    }
    let mut r = Reader::new(p);
    let declared = r.u32_be().ok_or("shorter than its header")?;
    if p.len() < 132 || usize::try_from(declared).ok() != Some(p.len()) {
        return Err(format!("declares {declared} bytes but has {}", p.len()));
    }
    if p.get(36..40) != Some(b"acsp") {
        return Err("no 'acsp' signature".into());
    }
    let space = p.get(16..20).unwrap_or_default();
    let fits = match space {
        b"RGB " => color.has_color(),
        b"GRAY" => !color.has_color(),
        _ => false,
    };
    if !fits {
        return Err(format!(
            "a {} profile does not fit {color:?} pixels",
            String::from_utf8_lossy(space).trim()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(space: &[u8; 4], len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len];
        p[..4].copy_from_slice(&(len as u32).to_be_bytes());
        p[16..20].copy_from_slice(space);
        p[36..40].copy_from_slice(b"acsp");
        p
    }

    #[test]
    fn plain_profiles_fit_their_colour_model_only() {
        assert!(check(&profile(b"RGB ", 200), ColorType::Rgb8).is_ok());
        assert!(check(&profile(b"GRAY", 200), ColorType::L8).is_ok());
        assert!(check(&profile(b"GRAY", 200), ColorType::Rgb8).is_err());
        assert!(check(&profile(b"CMYK", 200), ColorType::Rgb8).is_err());
        let mut lying = profile(b"RGB ", 200);
        lying[3] = 99;
        assert!(check(&lying, ColorType::Rgb8).is_err());
        assert!(check(&[0, 0], ColorType::Rgb8).is_err());
    }
}
