// Package secretenv forwards to github.com/goodgo/rotation/secretenv while
// code moves to the public package.
package secretenv

import s "github.com/goodgo/rotation/secretenv"

type (
	Source   = s.Source
	Encoding = s.Encoding
	Rule     = s.Rule
	Error    = s.Error
	Named    = s.Named
	Var      = s.Var
	Class    = s.Class
	Finding  = s.Finding
)

const (
	Raw         = s.Raw
	Base64      = s.Base64
	URLPassword = s.URLPassword
	MaxFileSize = s.MaxFileSize
)

var (
	Env                = s.Env
	Map                = s.Map
	Dir                = s.Dir
	Names              = s.Names
	Decode             = s.Decode
	DecodeList         = s.DecodeList
	Load               = s.Load
	LoadList           = s.LoadList
	Require            = s.Require
	Distinct           = s.Distinct
	Inventory          = s.Inventory
	Lookup             = s.Lookup
	Check              = s.Check
	TextFingerprint    = s.TextFingerprint
	FirstProblem       = s.FirstProblem
	IsMissing          = s.IsMissing
	ErrBadName         = s.ErrBadName
	ErrMissing         = s.ErrMissing
	ErrTooShort        = s.ErrTooShort
	ErrWrongLength     = s.ErrWrongLength
	ErrNotBase64       = s.ErrNotBase64
	ErrBadURL          = s.ErrBadURL
	ErrNoPassword      = s.ErrNoPassword
	ErrEmptyItem       = s.ErrEmptyItem
	ErrDuplicate       = s.ErrDuplicate
	ErrNoDeadline      = s.ErrNoDeadline
	HMACRule           = s.HMACRule
	FieldKeyRule       = s.FieldKeyRule
	FieldKeyListRule   = s.FieldKeyListRule
	ProviderSecretRule = s.ProviderSecretRule
	AccessKeyRule      = s.AccessKeyRule
	IdentifierRule     = s.IdentifierRule
	DatabaseURLRule    = s.DatabaseURLRule
	RedisURLRule       = s.RedisURLRule
	PasswordRule       = s.PasswordRule
)
