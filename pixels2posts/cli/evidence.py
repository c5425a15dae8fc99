"""`pixels2posts evidence IMAGE...`: the vision stage's evidence pack for local images."""

from __future__ import annotations

from pathlib import Path

import click

from shared.schemas import EvidencePack, ShopAttributes, ShopMetadata


def _summary(path: Path, pack: EvidencePack) -> str:
    lines = [f"{path}  ({pack.image.width}x{pack.image.height})"]
    for garment in pack.garments:
        colours = ", ".join(f"{c.name} {round(c.share * 100)}%" for c in garment.colours) or "no colour"
        box = ", ".join(f"{v:.0f}" for v in garment.box)
        kind = f" ({garment.category})" if garment.category and garment.category != garment.label else ""
        lines.append(f"  {garment.label:<9} {garment.score:.2f}  [{box}]  {colours}{kind}")
    if not pack.garments:
        lines.append("  no garment stated" + (f" ({len(pack.withheld)} withheld by the statement gates)"
                                               if pack.withheld else ""))
    if pack.backdrop:
        lines.append(f"  backdrop: {pack.backdrop}")
    for name in ("gender", "fabric", "colour", "category"):
        attribute = getattr(pack.attributes, name)
        if attribute is None:
            continue
        source = f", {attribute.source}" if attribute.source else ""
        lines.append(f"  {name}: {attribute.value or 'unknown'} (confidence {attribute.confidence:.2f}{source})")
    if pack.style_examples:
        lines.append(f"  style: {'; '.join(pack.style_examples)}")
    lines.append(f"  models: {', '.join(f'{k}={v}' for k, v in pack.models.items())}")
    return "\n".join(lines)


def _shop_metadata(title: str | None, attributes: tuple[str, ...], sku: str | None = None) -> ShopMetadata | None:
    if title is None and not attributes and sku is None:
        return None
    given: dict[str, str] = {}
    for pair in attributes:
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in ShopAttributes.model_fields:
            keys = ", ".join(ShopAttributes.model_fields)
            raise click.BadParameter(f"{pair!r}: use KEY=VALUE with KEY one of {keys}", param_hint="--attribute")
        given[key.strip()] = value.strip()
    return ShopMetadata(sku=sku, title=title, attributes=ShopAttributes(**given) if given else None)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON evidence pack per line.")
@click.option("--draw", "draw_to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a picture with boxes, labels and colour swatches (OUT.png; OUT-<n>.png for many).")
@click.option("--sku", default=None,
              help="The product's SKU: with a shop's own index (P2P_INDEX_DIR), its catalogue row is evidence.")
@click.option("--title", default=None, help="The shop's product title (its words are evidence).")
@click.option("--attribute", "attributes", multiple=True, metavar="KEY=VALUE",
              help="A shop-stated attribute: gender, fabric, colour or category (repeatable); it takes precedence.")
def evidence(images: tuple[Path, ...], as_json: bool, draw_to: Path | None, sku: str | None, title: str | None,
             attributes: tuple[str, ...]) -> None:
    """Detect garments, name their colours, retrieve similar products and vote attributes."""
    from pixels2posts.evaluation.draw import save_drawing
    from shared.errors import P2PError
    from shared.images import DecodedImage, load_image
    from workers.vision.pipeline import VisionPipeline
    from workers.vision.shop import apply_shop, catalogue_item

    shop = _shop_metadata(title, attributes, sku)

    pipeline = VisionPipeline()
    # the command runs on the index owner's machine: an index bound to a tenant (P2P_INDEX_TENANT) is its own
    catalogue = catalogue_item(pipeline.index, pipeline.settings, sku, pipeline.settings.index_tenant)
    if sku is not None and catalogue is None:
        where = "P2P_INDEX_DIR is not set (the bundled index is not a shop's catalogue)" \
            if pipeline.settings.index_dir is None else f"no product {sku!r} in {pipeline.settings.index_dir}"
        click.echo(f"note: --sku {sku}: {where}; no catalogue row is used", err=True)
    readable: list[tuple[Path, DecodedImage]] = []
    failed = 0
    for path in images:
        try:
            readable.append((path, load_image(path, min_side=pipeline.min_side)))
        except P2PError as exc:  # one bad file must not cost the others their packs
            failed += 1
            click.echo(f"error [{exc.code}] {path}: {exc}", err=True)
    packs = pipeline.evidence_batch([image for _, image in readable])
    for n, ((path, image), pack) in enumerate(zip(readable, packs, strict=True)):
        pack = apply_shop(pack, shop, catalogue)
        click.echo(pack.model_dump_json() if as_json else _summary(path, pack))
        if draw_to is not None:
            target = draw_to if len(images) == 1 else draw_to.with_name(f"{draw_to.stem}-{n}{draw_to.suffix}")
            save_drawing(image, pack, target)
            if not as_json:
                click.echo(f"  drawn: {target}")
    if failed:
        raise SystemExit(2)
