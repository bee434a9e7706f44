import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { getToken, onUnauthorized, setToken } from "@/api/client";
import { auth } from "@/api/endpoints";
import type { Me, User } from "@/api/types";

interface AuthState {
  user: Me | null;
  loading: boolean;
  signIn: (token: string, user: User) => void;
  signOut: () => Promise<void>;
  refresh: () => Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<Me | null>(null);
  const [loading, setLoading] = useState(Boolean(getToken()));

  const refresh = useCallback(async () => {
    if (!getToken()) {
      setUser(null);
      setLoading(false);
      return;
    }
    try {
      setUser(await auth.me());
    } catch {
      setUser(null);
    } finally {
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void refresh();
    return onUnauthorized(() => {
      setToken(null);
      setUser(null);
    });
  }, [refresh]);

  const signIn = useCallback(
    (token: string, next: User) => {
      setToken(token);
      setUser({ ...next, group: "", must_change_password: false });
      // The login response has no `must_change_password`; `me` does.
      void refresh();
    },
    [refresh],
  );

  const signOut = useCallback(async () => {
    try {
      await auth.logout();
    } catch {
      // The token is dropped locally either way.
    }
    setToken(null);
    setUser(null);
  }, []);

  return <AuthContext.Provider value={{ user, loading, signIn, signOut, refresh }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (!state) throw new Error("useAuth must be used inside <AuthProvider>");
  return state;
}
