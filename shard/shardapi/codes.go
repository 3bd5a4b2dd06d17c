package shardapi

import "net/http"

// Code is an error code: the "error" field of an error answer.
type Code string

// The error codes of the contract. Each answers with one HTTP status
// (Code.HTTPStatus).
const (
	CodeInvalidRequest      Code = "invalid_request"      // 400
	CodeUnknownSeat         Code = "unknown_seat"         // 400
	CodeUnauthorized        Code = "unauthorized"         // 401
	CodeHoldNotFound        Code = "hold_not_found"       // 404
	CodeNotFound            Code = "not_found"            // 404: no such endpoint
	CodeSeatsUnavailable    Code = "seats_unavailable"    // 409
	CodeHoldExpired         Code = "hold_expired"         // 409
	CodeHoldSold            Code = "hold_sold"            // 409
	CodePayloadTooLarge     Code = "payload_too_large"    // 413
	CodeNotLeader           Code = "not_leader"           // 421 (v2): Error.Leader names the leader
	CodeTooManySeats        Code = "too_many_seats"       // 422
	CodeIdempotencyMismatch Code = "idempotency_mismatch" // 422
	CodeNotReady            Code = "not_ready"            // 503: retry, with the same Idempotency-Key

	// The waiting room's (/v1/room*).
	CodeWaitingRoomNotOpen       Code = "waiting_room_not_open"       // 403
	CodeAdmissionRequired        Code = "admission_required"          // 403: hold or extend while the room is on, not as an admitted place
	CodeAdmissionEnded           Code = "admission_ended"             // 409: hold or extend after the place's turn ended
	CodePlaceNotFound            Code = "place_not_found"             // 404
	CodeWaitingRoomNotConfigured Code = "waiting_room_not_configured" // 409
	CodeRoomConfiguredByFlags    Code = "room_configured_by_flags"    // 409
	CodeSoldOut                  Code = "sold_out"                    // 410
)

var codeStatus = map[Code]int{
	CodeInvalidRequest:           http.StatusBadRequest,
	CodeUnknownSeat:              http.StatusBadRequest,
	CodeUnauthorized:             http.StatusUnauthorized,
	CodeHoldNotFound:             http.StatusNotFound,
	CodeNotFound:                 http.StatusNotFound,
	CodeSeatsUnavailable:         http.StatusConflict,
	CodeHoldExpired:              http.StatusConflict,
	CodeHoldSold:                 http.StatusConflict,
	CodePayloadTooLarge:          http.StatusRequestEntityTooLarge,
	CodeNotLeader:                http.StatusMisdirectedRequest,
	CodeTooManySeats:             http.StatusUnprocessableEntity,
	CodeIdempotencyMismatch:      http.StatusUnprocessableEntity,
	CodeNotReady:                 http.StatusServiceUnavailable,
	CodeWaitingRoomNotOpen:       http.StatusForbidden,
	CodeAdmissionRequired:        http.StatusForbidden,
	CodeAdmissionEnded:           http.StatusConflict,
	CodePlaceNotFound:            http.StatusNotFound,
	CodeWaitingRoomNotConfigured: http.StatusConflict,
	CodeRoomConfiguredByFlags:    http.StatusConflict,
	CodeSoldOut:                  http.StatusGone,
}

// HTTPStatus is the status the shard answers the code with (0: not a code of
// the contract).
func (c Code) HTTPStatus() int { return codeStatus[c] }

// Codes lists every error code of the contract.
func Codes() []Code {
	out := make([]Code, 0, len(codeStatus))
	for c := range codeStatus {
		out = append(out, c)
	}
	return out
}

// Header names the contract uses.
const (
	HeaderAuthorization  = "Authorization"   // "Bearer <token>" on every /v1/* request
	HeaderIdempotencyKey = "Idempotency-Key" // POST /v1/holds and POST /v1/holds/{id}/confirm
	HeaderLastEventID    = "Last-Event-ID"   // GET /v1/events: resume after this version
	HeaderRetryAfter     = "Retry-After"     // on 503 not_ready
)

// MaxIdempotencyKeyLen is the longest Idempotency-Key the shard accepts
// (longer is 400 invalid_request).
const MaxIdempotencyKeyLen = 255

// Limits on request fields (longer is 400 invalid_request).
const (
	MaxHolderLen  = 256
	MaxOrderIDLen = 256
)

// Seat states.
const (
	SeatFree            = "free"
	SeatHeld            = "held"
	SeatAwaitingPayment = "awaiting_payment"
	SeatSold            = "sold"
)

// Hold states: the seat states a hold can give its seats, and the two ends
// that give them back.
const (
	HoldHeld            = "held"
	HoldAwaitingPayment = "awaiting_payment"
	HoldSold            = "sold"
	HoldReleased        = "released"
	HoldExpired         = "expired"
)

// Roles in /v1/status: "single" for a shard without --peers (v1), the others
// for members of a replicated shard (v2).
const (
	RoleSingle    = "single"
	RoleLeader    = "leader"
	RoleFollower  = "follower"
	RoleCandidate = "candidate"
)
