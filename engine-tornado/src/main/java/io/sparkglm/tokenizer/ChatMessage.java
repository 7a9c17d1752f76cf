package io.sparkglm.tokenizer;

import java.util.Objects;

/** One turn of a GLM-4 chat: a role and its text (always ordinary text, never control tokens). */
public record ChatMessage(Role role, String content) {

    public enum Role { SYSTEM, USER, ASSISTANT, OBSERVATION }

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static ChatMessage system(String content) { return new ChatMessage(Role.SYSTEM, content); }
    public static ChatMessage user(String content) { return new ChatMessage(Role.USER, content); }
    public static ChatMessage assistant(String content) { return new ChatMessage(Role.ASSISTANT, content); }
}
