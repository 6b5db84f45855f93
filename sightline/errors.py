"""Every error Sightline raises on purpose, in one place.

User mistakes (a corrupt image, too few images per tag, a model that is not downloaded) are
`SightlineError` subclasses with a message a person can act on. Each carries `code`, the Azure
Custom Vision error code closest in meaning, so the HTTP layer maps errors without a lookup table
of its own. Anything else escaping the library is a bug.
"""

from __future__ import annotations

from sightline.codes import ErrorCode


class SightlineError(Exception):
    """Base class of all deliberate Sightline errors."""

    code: str = ErrorCode.BadRequest


class ConfigError(SightlineError):
    """A `SIGHTLINE_*` setting with a value Sightline cannot use; the message names it and what it accepts."""


# --- images -------------------------------------------------------------------------------------


class ImageError(SightlineError):
    """An input that cannot be used as an image. `reason` is a short machine-readable word."""

    code = ErrorCode.BadRequestImageFormat
    reason = "invalid"


class ImageNotFoundError(ImageError):
    """A path that does not exist or cannot be opened for reading."""

    reason = "not_found"


class ImageUrlError(ImageNotFoundError):
    """An image URL that cannot be fetched: refused address, bad scheme, HTTP error, timeout, redirect loop."""

    code = ErrorCode.BadRequestImageUrl


class EmptyImageError(ImageError):
    reason = "empty"


class NotAnImageError(ImageError):
    reason = "not_an_image"


class UnsupportedImageFormatError(ImageError):
    reason = "unsupported_format"


class CorruptImageError(ImageError):
    reason = "corrupt"


class ImageTooLargeError(ImageError):
    """The file is larger than the configured byte limit."""

    code = ErrorCode.BadRequestImageSizeBytes
    reason = "too_large"


class DecompressionBombError(ImageError):
    """The decoded image would have more pixels than the configured limit."""

    code = ErrorCode.BadRequestImageDimensions
    reason = "too_many_pixels"


class ImageTooSmallError(ImageError):
    code = ErrorCode.BadRequestImageDimensions
    reason = "too_small"


# --- models -------------------------------------------------------------------------------------


class ModelError(SightlineError):
    """A backbone that cannot be created or run."""

    code = ErrorCode.BadRequestDomainNotFound


class UnknownBackboneError(ModelError):
    pass


class ModelNotFoundError(ModelError):
    """Weights are not on this machine and cannot be downloaded (offline or air-gapped)."""


class ModelConfigError(ModelError):
    """A model folder or ONNX sidecar that is malformed."""


class ExportError(ModelError):
    """A trained model that cannot be written as an ONNX graph (its backbone has none, or `onnx` is missing)."""

    code = ErrorCode.BadRequestExportValidationFailed


# --- training and prediction --------------------------------------------------------------------


class TrainingError(SightlineError):
    code = ErrorCode.BadRequestTrainingValidationFailed


class NotEnoughImagesError(TrainingError):
    """Some tags have fewer images than training needs. `short_tags` maps tag -> image count."""

    code = ErrorCode.BadRequestNotEnoughImagesPerTag

    def __init__(self, message: str, short_tags: dict[str, int]):
        super().__init__(message)
        self.short_tags = short_tags


class InvalidLabelsError(TrainingError):
    code = ErrorCode.BadRequestImageTags


class CannotFineTuneError(TrainingError):
    """Advanced training was asked of a backbone whose weights cannot be trained (an ONNX file, say)."""


class NotTrainedError(SightlineError):
    code = ErrorCode.BadRequestIterationIsNotTrained


class ModelFileError(SightlineError):
    """A saved classifier file that is missing, damaged or from an incompatible version."""

    code = ErrorCode.BadRequestInvalid


# --- storage ------------------------------------------------------------------------------------


class StoreError(SightlineError):
    """The database cannot be used: unreachable, an unsupported URL, or a schema from a newer Sightline."""

    code = ErrorCode.ServiceUnavailable


class StorageFullError(StoreError):
    """The disk (or quota) holding the database or the blobs is full: nothing of the operation was kept."""

    code = ErrorCode.InsufficientStorage


class BlobStoreError(StoreError):
    """The blob store cannot be used: a missing bucket, refused credentials, an unreachable endpoint."""


# --- tagging ------------------------------------------------------------------------------------


class VocabularyError(SightlineError):
    """A tag vocabulary (file or list of names) that is malformed: the message names the line and the fault."""

    code = ErrorCode.BadRequest


# --- the service layer (projects, tags, images, iterations) ----------------------------------------


class ServiceError(SightlineError):
    """A request the service cannot carry out. `code` may be set per error, from Custom Vision's codes."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


class NotFoundError(ServiceError):
    """No such project, tag, image, iteration or publish name (HTTP 404)."""

    code = ErrorCode.NotFound


class ConflictError(ServiceError):
    """The request clashes with the current state, e.g. deleting a published iteration (HTTP 409)."""

    code = ErrorCode.Conflict


class InvalidRequestError(ServiceError):
    """A request whose values are wrong: an empty name, a bad classification type (HTTP 400)."""

    code = ErrorCode.BadRequest


class LimitExceededError(ServiceError):
    """A configured limit (tags per project, images per project, tags per image) would be exceeded."""

    code = ErrorCode.BadRequestExceededQuota
