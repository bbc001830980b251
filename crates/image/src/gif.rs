//! GIF, animation kept: each frame's palette indices are decoded and
//! written again with its palette, position, delay, disposal and
//! transparency, so the pixels are exactly the input's and nothing but the
//! frames and the loop count is carried over.

use crate::rebuild::{check_pixels, one_line};
use crate::survey::Survey;
use mugai_core::{Blocked, Code, Context, FileType};
use std::borrow::Cow;
use std::num::NonZeroU64;

pub fn rebuild(input: &[u8], s: &Survey, cx: &mut Context<'_>) -> Result<Vec<u8>, Blocked> {
    let max = cx.policy().limits.max_image_pixels;
    let fail = |cx: &Context<'_>, what: &str, e: &dyn std::fmt::Display| {
        cx.block(
            Code::RebuildFailed,
            format!("GIF: {what}: {}", one_line(&e.to_string())),
        )
    };
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    // Frames outside the canvas render differently in every viewer.
    opts.check_frame_consistency(true);
    // Indexed output: one byte per pixel of one frame.
    opts.set_memory_limit(gif::MemoryLimit::Bytes(
        NonZeroU64::new(max.max(1)).unwrap_or(NonZeroU64::MIN),
    ));
    let mut dec = opts
        .read_info(input)
        .map_err(|e| fail(cx, "cannot read the header", &e))?;
    let (w, h) = (dec.width(), dec.height());
    check_pixels(cx, FileType::Gif, u32::from(w), u32::from(h), s.frames)?;
    let global = dec.global_palette().map(<[u8]>::to_vec).unwrap_or_default();
    let repeat = dec.repeat();

    let mut out = Vec::new();
    let mut enc = gif::Encoder::new(&mut out, w, h, &global)
        .map_err(|e| fail(cx, "cannot write the header", &e))?;
    if s.frames > 1 || repeat != gif::Repeat::Finite(0) {
        enc.set_repeat(repeat)
            .map_err(|e| fail(cx, "cannot write the loop count", &e))?;
    }
    let mut n: u64 = 0;
    loop {
        let frame = match dec.read_next_frame() {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(fail(cx, &format!("frame {}", n + 1), &e)),
        };
        n += 1;
        // The survey's count was checked; a file that hides frames from it
        // is checked again here.
        check_pixels(cx, FileType::Gif, u32::from(w), u32::from(h), n)?;
        cx.check_deadline()?;
        cx.charge_expanded(frame.buffer.len() as u64)?;
        if frame.palette.is_none() && global.is_empty() {
            return Err(cx.block(
                Code::RebuildFailed,
                format!("GIF: frame {n} has no colour table"),
            ));
        }
        let clean = gif::Frame {
            delay: frame.delay,
            dispose: frame.dispose,
            transparent: frame.transparent,
            needs_user_input: false,
            top: frame.top,
            left: frame.left,
            width: frame.width,
            height: frame.height,
            interlaced: false,
            palette: frame.palette.clone(),
            buffer: Cow::Borrowed(&frame.buffer),
        };
        enc.write_frame(&clean)
            .map_err(|e| fail(cx, &format!("cannot write frame {n}"), &e))?;
    }
    if n == 0 {
        return Err(cx.block(Code::RebuildFailed, "GIF: no image in the file"));
    }
    drop(enc);
    Ok(out)
}
