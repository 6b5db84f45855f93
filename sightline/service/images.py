"""Images: upload (validated, deduplicated, blobs before rows), list, count, tag, untag, delete.

Over 400 lines, knowingly: uploads, tagging and metadata share the row helpers (`image_view`,
`_image_row`, `_resolve_tags`) and Custom Vision's per-image statuses. The next split is uploads
(`add_images` and its batch) into their own module, once the branches editing this file are merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from sightline.codes import ErrorCode, ImageStatus
from sightline.errors import ImageError, InvalidRequestError, LimitExceededError, NotFoundError
from sightline.imaging import ImageInfo, inspect_image, make_thumbnail, media_type
from sightline.service import cleanup
from sightline.service.metadata_filter import condition as metadata_condition
from sightline.service.projects import find_project_row
from sightline.service.tags import require_tag_row, tag_summary, tag_view
from sightline.service.views import ImageAddResult, ImageFile, ImageView, MetadataUpdate, TagView
from sightline.service.workspace import Workspace
from sightline.store import (
    THUMBNAIL_SUFFIX,
    ClassificationType,
    Image,
    ImageMetadata,
    ImageTag,
    Project,
    Tag,
    TagType,
)

#: Custom Vision's per-image status for each kind of bad image.
_STATUS_FOR_REASON = {
    "too_large": ImageStatus.ErrorImageSize,
    "too_many_pixels": ImageStatus.ErrorImageDimensions,
    "too_small": ImageStatus.ErrorImageDimensions,
    "not_found": ImageStatus.ErrorSource,
}
#: The status of an image whose tags break a rule, by the rule's error code (any other: ErrorInvalidTag).
_STATUS_FOR_TAG_ERROR = {
    ErrorCode.BadRequestNegativeAndRegularTagOnSameImage: ImageStatus.ErrorNegativeAndRegularTagOnSameImage
}

#: Custom Vision's limits on image metadata (UpdateImageMetadata): key and value lengths, images per call.
METADATA_KEY_MAX = 128
METADATA_VALUE_MAX = 256
METADATA_BATCH_MAX = 64
#: Custom Vision's most images per upload request; the web UI's upload form keeps to it too.
MAX_IMAGES_PER_BATCH = 64

#: The renditions of a stored image: derived-blob suffix and longest side. "original" is the blob itself.
_RENDITIONS = {"resized": ("resized", 1024), "thumbnail": (THUMBNAIL_SUFFIX, 256)}
RENDITIONS = ("original", *_RENDITIONS)


@dataclass
class NewImage:
    """An image to upload: its bytes, an optional original name, tags (ids or names), metadata."""

    data: bytes
    name: str | None = None
    tags: Sequence[str] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    test_set: bool = False  # goes to the project's test set: never trained on, used to evaluate


def image_view(image: Image, tags: Sequence[TagView] | None = None) -> ImageView:
    """The image as shown, with its current tags, or with `tags` (as an iteration trained on them)."""
    if tags is None:
        tags = [tag_summary(link.tag) for link in sorted(image.tag_links, key=lambda link: link.tag.name_key)]
    return ImageView(
        id=image.id,
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        format=image.format,
        size_bytes=image.size_bytes,
        created=image.created,
        original_name=image.original_name,
        tags=list(tags),
        metadata={m.key: m.value for m in image.metadata_entries},
        test_set=bool(image.test_set),
    )


def _resolve_tags(session: Session, project: Project, refs: Iterable[str]) -> list[Tag]:
    return [require_tag_row(session, project, ref) for ref in dict.fromkeys(refs)]


def _check_tag_rules(project: Project, tags: Sequence[Tag], ws: Workspace, subject: str) -> None:
    """Multiclass: one tag per image. Negative never with a regular tag. Tags per image limited."""
    regular = [t for t in tags if t.type == TagType.REGULAR]
    negative = [t for t in tags if t.type == TagType.NEGATIVE]
    if negative and regular:
        raise InvalidRequestError(
            f"{subject}: the Negative tag {negative[0].name!r} cannot sit with a regular tag",
            ErrorCode.BadRequestNegativeAndRegularTagOnSameImage,
        )
    if project.classification_type == ClassificationType.MULTICLASS and len(tags) > 1:
        names = ", ".join(t.name for t in tags)
        raise InvalidRequestError(
            f"{subject}: a Multiclass project allows one tag per image, not {names}", ErrorCode.BadRequestImageTags
        )
    if len(tags) > ws.limits.max_tags_per_image:
        raise LimitExceededError(
            f"{subject}: {len(tags)} tags, over the limit of {ws.limits.max_tags_per_image}",
            ErrorCode.BadRequestExceedTagPerImageLimit,
        )


def add_images(
    ws: Workspace, project_id: str, images: Sequence[NewImage], *, tags: Sequence[str] = ()
) -> list[ImageAddResult]:
    """Upload images; each gets a status ("OK", "OKDuplicate" or an error), the rest go on.

    `tags` apply to every image in addition to its own. Blobs are written before rows, and rows for
    the whole batch go in one transaction. Metadata breaking Custom Vision's rules refuses the batch.
    """
    for item in images:
        check_metadata(item.metadata, require=False)
    try:
        return _add_images_once(ws, project_id, images, tags)
    except IntegrityError:  # the same bytes added at the same moment by another request: now a duplicate
        return _add_images_once(ws, project_id, images, tags)


def _add_images_once(
    ws: Workspace, project_id: str, images: Sequence[NewImage], tags: Sequence[str]
) -> list[ImageAddResult]:
    results: list[ImageAddResult | None] = [None] * len(images)
    checked: list[tuple[int, NewImage, ImageInfo]] = []
    for i, item in enumerate(images):
        label = item.name or f"image {i + 1}"
        try:
            info = inspect_image(item.data, ws.image_limits)
        except ImageError as error:
            results[i] = ImageAddResult(
                label, _STATUS_FOR_REASON.get(error.reason, ImageStatus.ErrorImageFormat), message=str(error)
            )
            continue
        checked.append((i, item, info))
    written: list[str] = []
    try:
        for attempt in range(_UPLOAD_ATTEMPTS):
            try:
                stored = _store_batch(ws, project_id, checked, list(results), tags, written)
                _rewrite_missing(ws, [item for _i, item, _info in checked], stored)
                return stored
            except IntegrityError:
                # A concurrent upload stored one of these images first: the next pass sees its row
                # (OKDuplicate). Blobs are content-addressed, so the ones written here are still right.
                if attempt == _UPLOAD_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")
    except BaseException:
        _forget_blobs(ws, written)
        raise


def _rewrite_missing(ws: Workspace, items: list[NewImage], stored: list[ImageAddResult]) -> None:
    """After the commit: a blob that a concurrent delete removed in the meantime is written again."""
    new = {r.image.sha256 for r in stored if r.status == ImageStatus.OK and r.image is not None}
    for item in items:
        key = ws.blobs.key_for(item.data)
        if key in new and not ws.blobs.exists(key):
            ws.blobs.put(item.data)


#: Passes over a batch whose rows collided with a concurrent upload of the same images.
_UPLOAD_ATTEMPTS = 3


def _store_batch(
    ws: Workspace,
    project_id: str,
    checked: list[tuple[int, NewImage, ImageInfo]],
    results: list[ImageAddResult | None],
    tags: Sequence[str],
    written: list[str],
) -> list[ImageAddResult]:
    """One transaction for the rows of a batch of checked images (`results` holds the images refused already)."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        common = _resolve_tags(session, project, tags)
        count = session.scalar(select(func.count()).select_from(Image).where(Image.project_id == project.id)) or 0
        rows: dict[int, Image] = {}
        batch = _BatchRows(ws, session, project, common, written, count)
        for i, item, info in checked:
            results[i], row = batch.add(item, info, item.name or f"image {i + 1}")
            if row is not None:
                rows[i] = row
        session.flush()
        views = {i: image_view(row) for i, row in rows.items()}  # after the flush: with tags and metadata
        return [
            ImageAddResult(r.source, r.status, views.get(i), r.message) for i, r in enumerate(results) if r is not None
        ]


@dataclass
class _BatchRows:
    """The rows of one upload batch, added in one session: the tags every image gets (`common`), the
    project's image count so far, and the blobs the batch wrote (`written`: removed if it fails)."""

    ws: Workspace
    session: Session
    project: Project
    common: list[Tag]
    written: list[str]
    count: int

    def add(self, item: NewImage, info: ImageInfo, label: str) -> tuple[ImageAddResult, Image | None]:
        """One image: its result (view filled in by the caller) and its row, when there is one."""
        sha = self.ws.blobs.key_for(item.data)
        existing = self.session.scalar(select(Image).where(Image.project_id == self.project.id, Image.sha256 == sha))
        if existing is not None:
            return ImageAddResult(
                label, ImageStatus.OKDuplicate, message="the project already has this image"
            ), existing
        if self.count >= self.ws.limits.max_images_per_project:
            return ImageAddResult(
                label, ImageStatus.ErrorLimitExceed, message=f"the project has {self.count} images, the limit"
            ), None
        try:
            tags = self.common + [
                t for t in _resolve_tags(self.session, self.project, item.tags) if t not in self.common
            ]
            _check_tag_rules(self.project, tags, self.ws, label)
        except (InvalidRequestError, NotFoundError, LimitExceededError) as error:
            status = _STATUS_FOR_TAG_ERROR.get(error.code, ImageStatus.ErrorInvalidTag)
            return ImageAddResult(label, status, message=str(error)), None
        if len(item.metadata) > self.ws.limits.max_metadata_per_image:
            return ImageAddResult(
                label,
                ImageStatus.ErrorMetadataLimitExceed,
                message=f"{len(item.metadata)} metadata entries, over {self.ws.limits.max_metadata_per_image}",
            ), None
        if not self.ws.blobs.exists(sha):
            self.written.append(sha)
        self.ws.blobs.put(item.data)
        self.ws.blobs.put_derived(sha, THUMBNAIL_SUFFIX, make_thumbnail(item.data))
        image = Image(
            project_id=self.project.id,
            sha256=sha,
            blob_key=sha,
            width=info.width,
            height=info.height,
            format=info.format,
            size_bytes=len(item.data),
            original_name=item.name,
            test_set=item.test_set,
        )
        self.session.add(image)
        self.session.flush()
        self.session.add_all(ImageTag(image_id=image.id, tag_id=t.id) for t in tags)
        self.session.add_all(
            ImageMetadata(image_id=image.id, key=str(k), value=str(v)) for k, v in item.metadata.items()
        )
        self.count += 1
        return ImageAddResult(label, ImageStatus.OK), image


def _forget_blobs(ws: Workspace, keys: list[str]) -> None:
    """Remove blobs this failed upload wrote, and their renditions, unless some row refers to them meanwhile."""
    if not keys:
        return
    with ws.session() as session:  # a read: a full disk still answers it
        used = set(session.scalars(select(Image.blob_key).where(Image.blob_key.in_(keys))))
    for key in keys:
        if key not in used:
            ws.blobs.delete(key)
            for suffix, _side in _RENDITIONS.values():
                ws.blobs.delete(ws.blobs.derived_key(key, suffix))


def list_images(
    ws: Workspace,
    project_id: str,
    *,
    tagged: bool | None = None,
    tag_ids: Sequence[str] = (),
    take: int = 50,
    skip: int = 0,
    newest_first: bool = True,
    metadata_filter: str | None = None,
    test_set: bool | None = False,
) -> list[ImageView]:
    """Images of a project: all, tagged only, untagged only, or carrying any of `tag_ids`; and matching
    `metadata_filter` (Custom Vision's `$filter`, see `metadata_filter`). `test_set`: False (default)
    the training images, True the project's test set, None both: the Azure routes keep showing
    training images only."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        query = _filtered(select(Image), session, project, tagged, tag_ids, metadata_filter, test_set)
        order = Image.created.desc() if newest_first else Image.created.asc()
        query = query.options(
            selectinload(Image.tag_links).selectinload(ImageTag.tag), selectinload(Image.metadata_entries)
        )
        rows = session.scalars(query.order_by(order, Image.id).offset(skip).limit(take)).all()
        return [image_view(image) for image in rows]


def original_names(ws: Workspace, project_id: str, prefix: str = "") -> set[str]:
    """The original names of a project's images that start with `prefix` (what an import already copied)."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        query = select(Image.original_name).where(Image.project_id == project.id)
        if prefix:
            query = query.where(Image.original_name.startswith(prefix, autoescape=True))
        return {name for name in session.scalars(query) if name is not None}


def count_images(
    ws: Workspace,
    project_id: str,
    *,
    tagged: bool | None = None,
    tag_ids: Sequence[str] = (),
    metadata_filter: str | None = None,
    test_set: bool | None = False,
) -> int:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        query = _filtered(
            select(func.count()).select_from(Image), session, project, tagged, tag_ids, metadata_filter, test_set
        )
        return session.scalar(query) or 0


def _filtered(
    query,
    session: Session,
    project: Project,
    tagged: bool | None,
    tag_ids: Sequence[str],
    metadata_filter: str | None,
    test_set: bool | None = False,
):
    query = query.where(Image.project_id == project.id)
    if test_set is not None:
        query = query.where(Image.test_set == test_set)
    matching = metadata_condition(metadata_filter)
    if matching is not None:
        query = query.where(matching)
    has_tag = exists().where(ImageTag.image_id == Image.id)
    if tagged is True:
        query = query.where(has_tag)
    elif tagged is False:
        query = query.where(~has_tag)
    if tag_ids:
        ids = [t.id for t in _resolve_tags(session, project, tag_ids)]
        query = query.where(exists().where(ImageTag.image_id == Image.id, ImageTag.tag_id.in_(ids)))
    return query


def get_images(ws: Workspace, project_id: str, image_ids: Sequence[str]) -> list[ImageView]:
    with ws.session() as session:
        project = find_project_row(session, project_id)
        rows = session.scalars(select(Image).where(Image.project_id == project.id, Image.id.in_(image_ids))).all()
        return [image_view(image) for image in rows]


def image_bytes(ws: Workspace, project_id: str, image_id: str, *, thumbnail: bool = False) -> bytes:
    return image_file(ws, project_id, image_id, "thumbnail" if thumbnail else "original").data


def image_file(ws: Workspace, project_id: str, image_id: str, kind: str = "original") -> ImageFile:
    """A training image as uploaded ("original"), at most 1024 px ("resized") or 256 px ("thumbnail")."""
    with ws.session() as session:
        key = _image_row(session, find_project_row(session, project_id), image_id).blob_key
    return blob_rendition(ws, key, kind)


def blob_rendition(ws: Workspace, key: str, kind: str) -> ImageFile:
    """An image blob as stored, or a JPEG of it no larger than its rendition's side (made once, then kept)."""
    if kind == "original":
        data = ws.blobs.get(key)
        return ImageFile(data, media_type(data))
    if kind not in _RENDITIONS:
        raise InvalidRequestError(f"no image rendition {kind!r}: use one of {', '.join(RENDITIONS)}")
    suffix, side = _RENDITIONS[kind]
    derived = ws.blobs.derived_key(key, suffix)
    if ws.blobs.exists(derived):
        return ImageFile(ws.blobs.get(derived), "image/jpeg")
    data = make_thumbnail(ws.blobs.get(key), max_side=side)
    ws.blobs.put_derived(key, suffix, data)
    return ImageFile(data, "image/jpeg")


def tag_images(ws: Workspace, project_id: str, pairs: Iterable[tuple[str, str]]) -> int:
    """Add (image id, tag id or name) pairs, checking the project's rules per image; returns links added."""
    added, _already, _exceeded = tag_images_by_outcome(ws, project_id, pairs)
    return len(added)


def tag_images_by_outcome(
    ws: Workspace, project_id: str, pairs: Iterable[tuple[str, str]], *, list_exceeded: bool = False
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """As `tag_images`, returning the (image id, tag id) pairs added, those already there, and (with
    `list_exceeded`, as Azure's CreateImageTags answers) those left out for the tags-per-image limit.

    Otherwise all or nothing: one pair breaking a rule (or naming no such image or tag) adds none.
    """
    added: list[tuple[str, str]] = []
    already: list[tuple[str, str]] = []
    exceeded: list[tuple[str, str]] = []
    with ws.session() as session:
        project = find_project_row(session, project_id)
        for image_id, tag_ref in pairs:
            image = _image_row(session, project, image_id)
            (tag,) = _resolve_tags(session, project, [tag_ref])
            current = [link.tag for link in image.tag_links]
            if tag in current:
                already.append((image.id, tag.id))
                continue
            try:
                _check_tag_rules(project, [*current, tag], ws, f"image {image_id}")
            except LimitExceededError:
                if not list_exceeded:
                    raise
                exceeded.append((image.id, tag.id))
                continue
            session.add(ImageTag(image_id=image.id, tag_id=tag.id))
            session.flush()
            session.refresh(image)
            added.append((image.id, tag.id))
    return added, already, exceeded


def change_tag(ws: Workspace, project_id: str, image_id: str, tag_ref: str) -> bool:
    """Give an image `tag_ref` in place of the tags it has, in one transaction: relabelling in a Multiclass
    project (where remove-then-add would briefly leave it untagged, and add-then-remove is refused).
    Returns whether anything changed."""
    with ws.session() as session:
        project = find_project_row(session, project_id)
        image = _image_row(session, project, image_id)
        (tag,) = _resolve_tags(session, project, [tag_ref])
        current = [link.tag for link in image.tag_links]
        if [t.id for t in current] == [tag.id]:
            return False
        _check_tag_rules(project, [tag], ws, f"image {image_id}")
        for link in image.tag_links:
            if link.tag_id != tag.id:
                session.delete(link)
        if tag not in current:
            session.add(ImageTag(image_id=image.id, tag_id=tag.id))
        return True


def untag_images(ws: Workspace, project_id: str, pairs: Iterable[tuple[str, str]]) -> int:
    removed = 0
    with ws.session() as session:
        project = find_project_row(session, project_id)
        for image_id, tag_ref in pairs:
            image = _image_row(session, project, image_id)
            (tag,) = _resolve_tags(session, project, [tag_ref])
            result = session.execute(delete(ImageTag).where(ImageTag.image_id == image.id, ImageTag.tag_id == tag.id))
            removed += result.rowcount or 0  # type: ignore[attr-defined]  # a DELETE's result is a CursorResult
    return removed


def check_metadata(metadata: dict[str, str], *, require: bool = True) -> None:
    """Custom Vision's rules for metadata: keys of 1-128 characters, values of at most 256."""
    if require and not metadata:
        raise InvalidRequestError("no metadata given: send a JSON object of key/value strings")
    for key, value in metadata.items():
        if not 0 < len(str(key)) <= METADATA_KEY_MAX:
            raise InvalidRequestError(
                f"metadata key {str(key)[:40]!r}: keys have 1 to {METADATA_KEY_MAX} characters",
                ErrorCode.BadRequestImageMetadataKey,
            )
        if len(str(value)) > METADATA_VALUE_MAX:
            raise InvalidRequestError(
                f"metadata value of {key!r}: values have at most {METADATA_VALUE_MAX} characters",
                ErrorCode.BadRequestImageMetadataValue,
            )
        if "\x00" in f"{key}{value}":  # PostgreSQL cannot store one: refused alike on every database
            raise InvalidRequestError(f"metadata {key!r} holds a NUL character", ErrorCode.BadRequestImageMetadataValue)


def _merge_metadata(ws: Workspace, session: Session, image: Image, metadata: dict[str, str]) -> None:
    """Add or replace `metadata` on an image, within the per-image limit (LimitExceededError beyond it)."""
    current = {m.key: m for m in image.metadata_entries}
    if len(set(current) | set(metadata)) > ws.limits.max_metadata_per_image:
        raise LimitExceededError(f"an image may carry at most {ws.limits.max_metadata_per_image} metadata entries")
    for key, value in metadata.items():
        if key in current:
            current[key].value = str(value)
        else:
            session.add(ImageMetadata(image_id=image.id, key=str(key), value=str(value)))
    session.flush()
    session.refresh(image)


def set_metadata(ws: Workspace, project_id: str, image_id: str, metadata: dict[str, str]) -> ImageView:
    """Merge key/value metadata into an image (Custom Vision allows up to 50 pairs)."""
    check_metadata(metadata, require=False)
    with ws.session() as session:
        image = _image_row(session, find_project_row(session, project_id), image_id)
        _merge_metadata(ws, session, image, metadata)
        return image_view(image)


def update_metadata(
    ws: Workspace, project_id: str, image_ids: Sequence[str], metadata: dict[str, str]
) -> list[MetadataUpdate]:
    """Merge `metadata` into up to 64 images (Custom Vision's UpdateImageMetadata), with a status per image.

    A missing image ("ErrorImageNotFound") or one that would carry too many entries ("ErrorLimitExceed")
    is left as it was; the others are updated.
    """
    check_metadata(metadata)
    ids = list(dict.fromkeys(image_ids))
    if not ids or len(ids) > METADATA_BATCH_MAX:
        raise InvalidRequestError(f"name 1 to {METADATA_BATCH_MAX} images in imageIds", ErrorCode.BadRequestImageBatch)
    results = []
    with ws.session() as session:
        project = find_project_row(session, project_id)
        for image_id in ids:
            image = session.get(Image, image_id)
            if image is None or image.project_id != project.id:
                results.append(MetadataUpdate(image_id, ImageStatus.ErrorImageNotFound))
                continue
            try:
                _merge_metadata(ws, session, image, metadata)
                status = ImageStatus.OK
            except LimitExceededError:
                status = ImageStatus.ErrorLimitExceed
            results.append(MetadataUpdate(image.id, status, {m.key: m.value for m in image.metadata_entries}))
    return results


def delete_images(
    ws: Workspace, project_id: str, image_ids: Sequence[str] | None = None, *, all_images: bool = False
) -> int:
    """Delete images by id (or all of the project's), and their blobs once no other row refers to them."""
    if not image_ids and not all_images:
        raise InvalidRequestError("name the images to delete, or ask for all of them", ErrorCode.BadRequestImageBatch)
    with ws.session() as session:
        project = find_project_row(session, project_id)
        condition = Image.project_id == project.id
        if not all_images:
            condition = condition & Image.id.in_(list(image_ids or ()))
        keys = list(session.scalars(select(Image.blob_key).where(condition)))
        deleted = session.execute(delete(Image).where(condition)).rowcount or 0  # type: ignore[attr-defined]  # as above
    cleanup.forget_unreferenced(ws, keys)  # after the commit: shared blobs stay
    return deleted


def set_test_set(ws: Workspace, project_id: str, image_ids: Sequence[str], *, test_set: bool) -> int:
    """Move images into the project's test set (never trained on) or back to training; returns how many
    moved. An id of another project, or of no image, is an error and moves nothing."""
    wanted = list(dict.fromkeys(image_ids))
    if not wanted:
        raise InvalidRequestError("name the images to move", "BadRequestImageBatch")
    with ws.session() as session:
        project = find_project_row(session, project_id)
        rows = session.scalars(select(Image).where(Image.project_id == project.id, Image.id.in_(wanted))).all()
        missing = set(wanted) - {row.id for row in rows}
        if missing:
            raise NotFoundError(f"no image {sorted(missing)[0]} in project {project.name!r}", "NotFoundImage")
        moved = [row for row in rows if bool(row.test_set) != test_set]
        for row in moved:
            row.test_set = test_set
        return len(moved)


def _image_row(session: Session, project: Project, image_id: str) -> Image:
    image = session.get(Image, image_id)
    if image is None or image.project_id != project.id:
        raise NotFoundError(f"no image {image_id} in project {project.name!r}", ErrorCode.NotFoundImage)
    return image


__all__ = [
    "MAX_IMAGES_PER_BATCH",
    "RENDITIONS",
    "NewImage",
    "add_images",
    "blob_rendition",
    "check_metadata",
    "count_images",
    "delete_images",
    "get_images",
    "image_bytes",
    "image_file",
    "list_images",
    "original_names",
    "set_metadata",
    "set_test_set",
    "tag_images",
    "tag_images_by_outcome",
    "tag_view",
    "untag_images",
    "update_metadata",
]
