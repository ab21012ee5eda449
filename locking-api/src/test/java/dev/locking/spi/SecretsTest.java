package dev.locking.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SecretsTest {

    @Test
    void aPasswordParameterIsMaskedUpToTheNextAmpersandOnlyAsTheDriverReadsIt() {
        assertEquals(
                "jdbc:postgresql://h/db?user=u&password=<masked>&ssl=true",
                Secrets.redactUrl("jdbc:postgresql://h/db?user=u&password=x&ssl=true"));
        assertEquals(
                "jdbc:postgresql://h/db?password=<masked>", Secrets.redactUrl("jdbc:postgresql://h/db?password=ab#cd"));
        assertEquals(
                "jdbc:postgresql://h/db?password=<masked>&x=1",
                Secrets.redactUrl("jdbc:postgresql://h/db?password=ab;cd#ef&x=1"));
        assertEquals(
                "jdbc:postgresql://h/db?sslmode=verify-full&sslpassword=<masked>",
                Secrets.redactUrl("jdbc:postgresql://h/db?sslmode=verify-full&sslpassword=k3y"));
        assertEquals(
                "jdbc:postgresql://h/db?PASSWORD=<masked>", Secrets.redactUrl("jdbc:postgresql://h/db?PASSWORD=s"));
    }

    @Test
    void theUserInfoPasswordIsMaskedEvenWhenItHoldsCharactersThatEndUrlParts() {
        assertEquals(
                "jdbc:postgresql://app:<masked>@127.0.0.1/test",
                Secrets.redactUrl("jdbc:postgresql://app:PW@127.0.0.1/test"));
        assertEquals("redis://:<masked>@host:6393", Secrets.redactUrl("redis://:PW@host:6393"));
        assertEquals("redis://u:<masked>@host:6393/0", Secrets.redactUrl("redis://u:p@ss/w?r#d@host:6393/0"));
        assertEquals("redis://<masked>@host", Secrets.redactUrl("redis://PW@host"));
    }

    @Test
    void anAtSignInThePathOrQueryOfAPlainHostIsNotUserInfo() {
        String url = "jdbc:postgresql://db:5432,db2/app?user=svc@corp&ApplicationName=a@b";
        assertEquals(url, Secrets.redactUrl(url));
        assertEquals(
                "jdbc:postgresql://[::1]:5432/app?user=a@b",
                Secrets.redactUrl("jdbc:postgresql://[::1]:5432/app?user=a@b"));
        assertEquals("redis://127.0.0.1:6379/2", Secrets.redactUrl("redis://127.0.0.1:6379/2"));
        assertNull(Secrets.redactUrl(null));
    }

    @Test
    void textThatMayHoldCredentials() {
        assertTrue(Secrets.mayHoldCredentials("redis://:PW@h:1"));
        assertTrue(Secrets.mayHoldCredentials("PW@h:1"));
        assertTrue(Secrets.mayHoldCredentials("h/db?Password=x"));
        assertFalse(Secrets.mayHoldCredentials("h:6379"));
        assertFalse(Secrets.mayHoldCredentials(null));
    }
}
