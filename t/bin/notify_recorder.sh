#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# OCSPGuardNotifyCmd for the tests: appends its arguments and its stdin
# (the event as JSON) to the file named by the first argument.
out=$1
shift
{ echo "ARGS $*"; cat; } >> "$out"
