"""The public data contract between the stages (pydantic v2, versioned, JSON-serialisable).

Field names here are read by other tools: add fields freely, never rename these.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

EVIDENCE_SCHEMA_VERSION = "1.4"  # 1.1: Garment.category/source, Attribute.source, Attributes.colour/category;
# 1.2: Garment.type_confidence/colour_confidence; 1.3: EvidencePack.withheld; 1.4: EvidencePack.backdrop
CAPTION_SCHEMA_VERSION = "1.0"

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Channel = Annotated[int, Field(ge=0, le=255)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ImageInfo(_Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class Colour(_Strict):
    name: str = Field(min_length=1)
    rgb: tuple[Channel, Channel, Channel]
    share: Unit


class Garment(_Strict):
    label: str = Field(min_length=1)
    score: Unit
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in original image pixels")
    colours: list[Colour] = Field(default_factory=list)
    category: str | None = Field(None, description="finer garment type (t-shirt, hoodie, ...) when known")
    source: str | None = Field(None, description="'detector', or 'image' for the whole-image garment-type head")
    type_confidence: Unit | None = Field(
        None, description="the image tower's probability that this region is a garment of this class (None: no head)")
    colour_confidence: Unit | None = Field(None, description="the colour namer's confidence (None: no namer)")

    @field_validator("box")
    @classmethod
    def _box_is_ordered(cls, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = box
        if x2 < x1 or y2 < y1:
            raise ValueError(f"box must be [x1, y1, x2, y2] with x1<=x2 and y1<=y2, got {list(box)}")
        return box


# the `source` of a fact the shop gave: its job attributes, or its product title (workers/vision/shop.py)
SHOP_SOURCE, TITLE_SOURCE, CATALOGUE_SOURCE = "shop", "shop_title", "shop_catalogue"
SHOP_SOURCES = frozenset({SHOP_SOURCE, TITLE_SOURCE, CATALOGUE_SOURCE})


class Attribute(_Strict):
    value: str | None = Field(description="None when the vote fell below the confidence threshold")
    confidence: Unit
    source: str | None = Field(None, description="'shop' (job attributes), 'shop_catalogue' (the shop's catalogue "
                                        "row of the job's SKU), 'shop_title', or 'image' (our models)")


class Attributes(_Strict):
    gender: Attribute
    fabric: Attribute
    colour: Attribute | None = None
    category: Attribute | None = None


class Neighbour(_Strict):
    product_id: str
    score: float


class EvidencePack(_Strict):
    schema_version: str = EVIDENCE_SCHEMA_VERSION
    image: ImageInfo
    garments: list[Garment] = Field(default_factory=list, description="the garments a caption may state")
    withheld: list[Garment] = Field(
        default_factory=list,
        description="garments the models found whose confidence did not clear the statement gates (P2P_GATE_*), or "
                    "the whole image's best guess when nothing was found: never stated, there for whoever reads the "
                    "pack (a shop's own tools, a reviewer)")
    attributes: Attributes
    backdrop: Literal["studio", "scene"] | None = Field(
        None, description="'studio': shot on a plain light backdrop (a packshot); 'scene': anywhere else. The "
                          "statement gates of that backdrop decided what is stated (P2P_GATE_SCENE_* for scenes)")
    neighbours: list[Neighbour] = Field(default_factory=list)
    style_examples: list[str] = Field(default_factory=list)
    models: dict[str, str] = Field(default_factory=dict, description="model name -> version")

    @model_validator(mode="after")
    def _known_major_version(self) -> EvidencePack:
        _check_major(self.schema_version, EVIDENCE_SCHEMA_VERSION)
        return self


class Grounding(_Strict):
    attribute_coverage: Unit
    hashtag_coverage: Unit = 0.0
    unsupported: list[str] = Field(default_factory=list)


class Provenance(_Strict):
    llm: str = Field(description="model name, or 'deterministic' for the fallback writer")
    prompt_version: str
    attempts: int = Field(ge=0)
    fallback: bool = False
    fallback_reason: str | None = Field(
        None, description="why the deterministic writer published: no_llm, endpoint_unavailable, rejected, language"
    )


class CaptionResult(_Strict):
    schema_version: str = CAPTION_SCHEMA_VERSION
    caption: str = Field(min_length=1)
    hashtags: list[str]
    evidence: EvidencePack
    grounding: Grounding
    provenance: Provenance

    @field_validator("hashtags")
    @classmethod
    def _hashtags_are_tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not tag.startswith("#") or len(tag) < 2 or not tag[1:].isalnum():
                raise ValueError(f"hashtag must be '#' followed by letters/digits, got {tag!r}")
        return tags

    @model_validator(mode="after")
    def _known_major_version(self) -> CaptionResult:
        _check_major(self.schema_version, CAPTION_SCHEMA_VERSION)
        return self


def _check_major(found: str, supported: str) -> None:
    if found.split(".")[0] != supported.split(".")[0]:
        raise ValueError(f"unsupported schema_version {found!r}; this build reads {supported.split('.')[0]}.x")


class ShopAttributes(_Strict):
    """Attributes a shop states for its product: evidence with precedence over our models' votes."""

    gender: str | None = Field(None, max_length=50)
    fabric: str | None = Field(None, max_length=100)
    colour: str | None = Field(None, max_length=50)
    category: str | None = Field(None, max_length=100)


class JobOptions(_Strict):
    """Per-job options a shop may send; they are part of the idempotency key."""

    brand: str | None = Field(None, max_length=200)
    tone: str | None = Field(None, max_length=100)
    max_hashtags: int | None = Field(None, ge=1, le=30)
    banned_words: list[str] = Field(default_factory=list, max_length=200)
    language: str = Field("en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 language tag")
    brand_hashtags: list[str] = Field(default_factory=list, max_length=10, description="always published first")
    claims: list[str] = Field(default_factory=list, max_length=50,
                              description="product facts the shop states (waterproof, made in Portugal)")
    attributes: ShopAttributes | None = Field(None, description="the shop's own gender/fabric/colour/category")

    def canonical(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)


class ShopMetadata(JobOptions):
    """What a shop may send with a job: its options, the product's SKU and title. Its text is data for the prompt,
    never instructions."""

    sku: str | None = Field(None, max_length=128)
    title: str | None = Field(None, max_length=500)


class ErrorBody(BaseModel):
    code: str
    message: str


class JobView(BaseModel):
    """A job as `GET /v1/jobs/{id}` returns it and the completion webhook posts it (`body()`: unset fields left out)."""

    job_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    sku: str | None = None
    image_sha256: str
    created_at: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: ErrorBody | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
