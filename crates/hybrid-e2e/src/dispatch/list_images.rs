//! `hybrid-e2e list-images`: the images the selected tests use, one a line, for mirroring;
//! no cluster needed.

use std::io::Write as _;

use hybrid_e2e_runner::catalog::TestCase;
use hybrid_e2e_runner::image_list::images_used;

use crate::cli::{ImagesFormat, ListImagesArgs};
use crate::errors::Error;
use crate::plan::Selected;

pub(super) fn list_images(args: &ListImagesArgs) -> Result<(), Error> {
    let selected = Selected::from_args(&args.select)?;
    let cases: Vec<&TestCase> = selected.cases.iter().collect();
    let used = images_used(&cases, &selected.fixtures, &selected.images)?;
    let mut out = std::io::stdout().lock();
    for image in &used {
        let line = match args.format {
            ImagesFormat::Tsv => image.tsv_line(),
            ImagesFormat::Plain => image.image.clone(),
        };
        writeln!(out, "{line}").map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    eprintln!("{} image(s) for {} test(s)", used.len(), cases.len());
    Ok(())
}
