# SPDX-License-Identifier: Apache-2.0
package Marionette;
# A small client for Firefox's own remote protocol, Marionette: a TCP
# connection to 127.0.0.1:2828 carrying "LENGTH:JSON" frames. Firefox sends
# a greeting, then answers each command [0, id, name, params] with
# [1, id, error, result]. Only what the browser test needs: a session,
# navigation, the page's title and text, a screenshot, quit.
use strict;
use warnings FATAL => 'all';

use IO::Socket::INET ();
use IO::Select ();
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use Time::HiRes qw(time sleep);

my $json = JSON::PP->new->canonical->allow_nonref;

# Marionette->connect(port => 2828, timeout => 30): retries while Firefox
# starts; dies if it never listens.
sub connect {
    my ($class, %o) = @_;
    my $port = $o{port} // 2828;
    my $end  = time + ($o{timeout} // 30);
    my $sock;
    while (time < $end) {
        $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 2);
        last if $sock;
        sleep 0.1;
    }
    die "marionette: nothing listens on 127.0.0.1:$port\n" unless $sock;
    $sock->autoflush(1);
    my $self = bless { sock => $sock, id => 0, buf => '' }, $class;
    my $hello = $self->_read_frame(30);
    die "marionette: unexpected greeting\n"
        unless ref $hello eq 'HASH' && $hello->{marionetteProtocol};
    $self->{hello} = $hello;
    return $self;
}

sub _read_frame {
    my ($self, $timeout) = @_;
    my $end = time + $timeout;
    my $sel = IO::Select->new($self->{sock});
    while (1) {
        if ($self->{buf} =~ /^(\d+):/) {
            my ($len, $head) = ($1, length($1) + 1);
            if (length($self->{buf}) >= $head + $len) {
                my $body = substr($self->{buf}, $head, $len);
                substr($self->{buf}, 0, $head + $len) = '';
                return $json->decode($body);
            }
        }
        my $left = $end - time;
        die "marionette: no answer within ${timeout}s\n" if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
        die "marionette: connection closed\n" unless $n;
    }
}

# Sends a command; returns ($result, $error) where $error is undef or
# { error, message } as Firefox sent it.
sub command {
    my ($self, $name, $params, $timeout) = @_;
    my $id = ++$self->{id};
    my $body = JSON::PP->new->utf8->canonical->encode([0, $id, $name, $params // {}]);
    print { $self->{sock} } length($body) . ':' . $body;
    while (1) {
        my $msg = $self->_read_frame($timeout // 60);
        next unless ref $msg eq 'ARRAY' && $msg->[0] == 1 && $msg->[1] == $id;
        return ($msg->[3], $msg->[2]);
    }
}

# The same, dying on an error.
sub ok {
    my ($self, $name, $params, $timeout) = @_;
    my ($res, $err) = $self->command($name, $params, $timeout);
    die "marionette: $name: $err->{error}: $err->{message}\n" if $err;
    return $res;
}

sub new_session {
    my ($self, %caps) = @_;
    return $self->ok('WebDriver:NewSession', { capabilities => { alwaysMatch => {
        acceptInsecureCerts => JSON::PP::false, pageLoadStrategy => 'normal',
        %caps } } });
}

# Navigates; returns undef when the page loaded, or Firefox's error message
# (for an error page: "Reached error page: about:neterror?e=...").
sub navigate {
    my ($self, $url) = @_;
    my (undef, $err) = $self->command('WebDriver:Navigate', { url => $url }, 90);
    return $err ? "$err->{error}: $err->{message}" : undef;
}

sub current_url { $_[0]->ok('WebDriver:GetCurrentURL')->{value} }
sub title       { $_[0]->ok('WebDriver:GetTitle')->{value} }

sub execute {
    my ($self, $script, @args) = @_;
    return $self->ok('WebDriver:ExecuteScript', { script => $script, args => \@args })->{value};
}

# Values of Firefox preferences (read in the chrome context): name => value.
sub prefs {
    my ($self, @names) = @_;
    $self->ok('Marionette:SetContext', { value => 'chrome' });
    my $v = eval { $self->execute(q{
        var out = {};
        for (var n of arguments) {
            var t = Services.prefs.getPrefType(n);
            out[n] = t == Services.prefs.PREF_INT ? Services.prefs.getIntPref(n)
                   : t == Services.prefs.PREF_BOOL ? Services.prefs.getBoolPref(n)
                   : t == Services.prefs.PREF_STRING ? Services.prefs.getStringPref(n)
                   : null;
        }
        return out;
    }, @names) };
    my $err = $@;
    $self->ok('Marionette:SetContext', { value => 'content' });
    die $err if $err;
    return $v;
}

sub set_window_size {
    my ($self, $w, $h) = @_;
    $self->ok('WebDriver:SetWindowRect', { width => $w, height => $h });
}

# The viewport as PNG bytes.
sub screenshot_png {
    my $self = shift;
    my $b64 = $self->ok('WebDriver:TakeScreenshot', { full => JSON::PP::false, hash => JSON::PP::false })->{value};
    return decode_base64($b64);
}

sub quit {
    my $self = shift;
    eval { $self->command('Marionette:Quit', { flags => ['eForceQuit'] }, 20) };
    close $self->{sock};
}

1;
