"""The words Sightline shares with Azure Custom Vision's clients: statuses and error codes, one enum each.

Members are named exactly as Azure spells the value (`ErrorCode.NotFoundTag == "NotFoundTag"`), so
a code read in a client's log, in Azure's documentation or in this tree is found by one search. They
are `StrEnum`s: each member *is* its string, so JSON, f-strings and comparisons with stored values
need no conversion.
"""

from __future__ import annotations

import enum


class IterationStatus(enum.StrEnum):
    """Where an iteration is in its life (stored on the iteration row; Azure's `status`)."""

    QUEUED = "Queued"
    TRAINING = "Training"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (IterationStatus.COMPLETED, IterationStatus.FAILED, IterationStatus.CANCELLED)

    @property
    def is_running(self) -> bool:
        """Queued or training: a worker has it, or will."""
        return self in (IterationStatus.QUEUED, IterationStatus.TRAINING)


class ImageStatus(enum.StrEnum):
    """The outcome of one image in a batch (Azure's ImageCreateResult and ImageMetadataUpdateEntry `status`)."""

    OK = "OK"
    OKDuplicate = "OKDuplicate"
    ErrorSource = "ErrorSource"
    ErrorImageFormat = "ErrorImageFormat"
    ErrorImageSize = "ErrorImageSize"
    ErrorImageDimensions = "ErrorImageDimensions"
    ErrorLimitExceed = "ErrorLimitExceed"
    ErrorMetadataLimitExceed = "ErrorMetadataLimitExceed"
    ErrorInvalidTag = "ErrorInvalidTag"
    ErrorNegativeAndRegularTagOnSameImage = "ErrorNegativeAndRegularTagOnSameImage"
    ErrorImageNotFound = "ErrorImageNotFound"

    @property
    def added(self) -> bool:
        """The image is in the project now (new, or there already)."""
        return self in (ImageStatus.OK, ImageStatus.OKDuplicate)


class ErrorCode(enum.StrEnum):
    """The `code` of an error response (`{"error": {"code": ..., "message": ...}}`), as Azure names them."""

    # generic, by HTTP status
    BadRequest = "BadRequest"
    Unauthorized = "Unauthorized"
    Forbidden = "Forbidden"
    NotFound = "NotFound"
    Conflict = "Conflict"
    RequestTimeout = "RequestTimeout"
    UnsupportedMediaType = "UnsupportedMediaType"
    TooManyRequests = "TooManyRequests"
    ErrorUnknown = "ErrorUnknown"
    ServiceUnavailable = "ServiceUnavailable"
    InsufficientStorage = "InsufficientStorage"
    BadRequestInvalid = "BadRequestInvalid"
    BadRequestNotSupported = "BadRequestNotSupported"
    BadRequestOperationNotSupported = "BadRequestOperationNotSupported"
    BadRequestExceededQuota = "BadRequestExceededQuota"
    # not found
    NotFoundProject = "NotFoundProject"
    NotFoundTag = "NotFoundTag"
    NotFoundImage = "NotFoundImage"
    NotFoundIteration = "NotFoundIteration"
    NotFoundDomain = "NotFoundDomain"
    # projects and domains
    BadRequestProjectNameNotUnique = "BadRequestProjectNameNotUnique"
    BadRequestProjectUnknownClassification = "BadRequestProjectUnknownClassification"
    BadRequestProjectGroupKey = "BadRequestProjectGroupKey"
    BadRequestProjectUnsupportedExportPlatform = "BadRequestProjectUnsupportedExportPlatform"
    BadRequestInvalidDomain = "BadRequestInvalidDomain"
    BadRequestUnsupportedDomain = "BadRequestUnsupportedDomain"
    BadRequestDomainNotFound = "BadRequestDomainNotFound"
    BadRequestInvalidImportToken = "BadRequestInvalidImportToken"
    BadRequestMigrationSource = "BadRequestMigrationSource"
    # tags
    BadRequestTagType = "BadRequestTagType"
    BadRequestTagNameNotUnique = "BadRequestTagNameNotUnique"
    BadRequestTagMerge = "BadRequestTagMerge"
    BadRequestMultipleNegativeTag = "BadRequestMultipleNegativeTag"
    BadRequestExceedTagPerProjectLimit = "BadRequestExceedTagPerProjectLimit"
    BadRequestInvalidTag = "BadRequestInvalidTag"
    # images
    BadRequestImageBatch = "BadRequestImageBatch"
    BadRequestImageStream = "BadRequestImageStream"
    BadRequestImageFormat = "BadRequestImageFormat"
    BadRequestImageUrl = "BadRequestImageUrl"
    BadRequestImageSizeBytes = "BadRequestImageSizeBytes"
    BadRequestImageDimensions = "BadRequestImageDimensions"
    BadRequestImageTags = "BadRequestImageTags"
    BadRequestImageRegions = "BadRequestImageRegions"
    BadRequestImageMetadataKey = "BadRequestImageMetadataKey"
    BadRequestImageMetadataValue = "BadRequestImageMetadataValue"
    BadRequestExceedTagPerImageLimit = "BadRequestExceedTagPerImageLimit"
    BadRequestNegativeAndRegularTagOnSameImage = "BadRequestNegativeAndRegularTagOnSameImage"
    # training and iterations
    BadRequestTrainingValidationFailed = "BadRequestTrainingValidationFailed"
    BadRequestMultiClassClassificationTrainingValidationFailed = (
        "BadRequestMultiClassClassificationTrainingValidationFailed"
    )
    BadRequestNotEnoughImagesPerTag = "BadRequestNotEnoughImagesPerTag"
    BadRequestTrainingAlreadyInProgress = "BadRequestTrainingAlreadyInProgress"
    BadRequestTrainingNotNeeded = "BadRequestTrainingNotNeeded"
    BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining = (
        "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining"
    )
    BadRequestInvalidEmailAddress = "BadRequestInvalidEmailAddress"
    BadRequestIterationIsNotTrained = "BadRequestIterationIsNotTrained"
    BadRequestIterationIsPublished = "BadRequestIterationIsPublished"
    BadRequestIterationNameNotUnique = "BadRequestIterationNameNotUnique"
    BadRequestIterationNotPublished = "BadRequestIterationNotPublished"
    BadRequestInvalidPublishName = "BadRequestInvalidPublishName"
    BadRequestExportValidationFailed = "BadRequestExportValidationFailed"
    # predictions
    BadRequestPredictionInvalidQueryParameters = "BadRequestPredictionInvalidQueryParameters"
    BadRequestPredictionTagsExceededCount = "BadRequestPredictionTagsExceededCount"
    # Image Analysis 4.0 (`analyze`)
    InvalidApiVersion = "InvalidApiVersion"
    InvalidParameter = "InvalidParameter"
    InvalidRequest = "InvalidRequest"
